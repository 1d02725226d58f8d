"""tiewise.graph."""
