from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "recommendations"
    # Merchant pages register here as (title, url name, order) once the app has them.
    dashboard_links: list[tuple[str, str, int]] = []
