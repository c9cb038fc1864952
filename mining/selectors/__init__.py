"""One module per feature: segmentation, rules, churn."""
