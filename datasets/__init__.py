"""Dataset specs: one folder per register."""
