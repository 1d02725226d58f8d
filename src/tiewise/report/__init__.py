"""tiewise.report."""
