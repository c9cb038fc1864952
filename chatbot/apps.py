from django.apps import AppConfig


class ChatbotConfig(AppConfig):
    name = "chatbot"
    # Merchant pages register here as (title, url name, order) once the app has them.
    dashboard_links: list[tuple[str, str, int]] = []
