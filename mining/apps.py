from django.apps import AppConfig


class MiningConfig(AppConfig):
    name = "mining"
    # Merchant pages register here as (title, url name, order) once the app has them.
    dashboard_links: list[tuple[str, str, int]] = []
