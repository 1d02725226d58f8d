"""tiewise.campaigns."""
