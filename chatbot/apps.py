from django.apps import AppConfig


class ChatbotConfig(AppConfig):
    name = "chatbot"
    # Merchant pages register here as (title, url name, order).
    dashboard_links: list[tuple[str, str, int]] = []
