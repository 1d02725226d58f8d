"""tiewise.value."""
