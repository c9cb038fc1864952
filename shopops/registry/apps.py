from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "shopops.registry"
    label = "registry"
    verbose_name = "Trained models"
    dashboard_links = [("Trained models", "registry:runs", 90)]
