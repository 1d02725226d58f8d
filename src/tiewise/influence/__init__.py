"""tiewise.influence."""
