from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "shopops.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"
    dashboard_links = [
        ("Overview", "dashboard:home", 0),
        ("Products", "dashboard:products", 10),
        ("Imports", "dashboard:imports", 80),
    ]
