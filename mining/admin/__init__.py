from mining.admin import churn, rules, segmentation  # noqa: F401 - registers the admin classes
