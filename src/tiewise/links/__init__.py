"""tiewise.links."""
