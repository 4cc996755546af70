"""Quality scorecards: scores from the store's history, rendered as a self-contained site, Excel and JSON."""
