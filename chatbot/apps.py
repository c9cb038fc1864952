from django.apps import AppConfig


class ChatbotConfig(AppConfig):
    name = "chatbot"
    verbose_name = "Chatbot"
    # Merchant pages register here as (title, url name, order).
    dashboard_links = [
        ("Live chat", "chatbot:console", 60),
        ("Chat transcripts", "chatbot:transcripts", 61),
        ("Chat analytics", "chatbot:analytics", 62),
        ("Intent examples", "chatbot:examples", 63),
        ("Chat FAQ", "chatbot:faq", 64),
        ("Intent model", "chatbot:model", 65),
    ]
    # Every storefront page carries the chat widget (shopops.store.context_processors).
    storefront_includes = ["chatbot/_widget.html"]

    def ready(self) -> None:
        from chatbot.services.training import intent_trainer
        from shopops.registry.services import trainer_register

        trainer_register(intent_trainer())
