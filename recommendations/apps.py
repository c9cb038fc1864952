from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "recommendations"
    # Merchant pages register here as (title, url name, order) once the app has them.
    dashboard_links = [("Recommendations", "recommendations:overview", 50)]

    def ready(self) -> None:
        from recommendations.services import recommendations_trainer
        from shopops.registry.services import trainer_register

        trainer_register(recommendations_trainer())
