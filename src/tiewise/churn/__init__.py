"""tiewise.churn."""
