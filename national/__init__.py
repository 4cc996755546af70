"""The national view: every province store read-only, one scorecard, citizens linked across provinces."""
