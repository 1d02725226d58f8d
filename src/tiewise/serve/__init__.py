"""tiewise.serve."""
