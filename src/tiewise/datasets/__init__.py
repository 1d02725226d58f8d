"""tiewise.datasets."""
