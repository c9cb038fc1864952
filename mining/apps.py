from django.apps import AppConfig


class MiningConfig(AppConfig):
    name = "mining"
    verbose_name = "Mining"
    dashboard_links = [
        ("Customer segments", "mining:segments", 20),
        ("Association rules", "mining:rules", 30),
        ("Churn risk", "mining:churn", 40),
    ]
    # Blocks the dashboard's product page shows: "module.function" returning (title, html).
    dashboard_product_panels = ["mining.views.rules.frequently_bought_together_panel"]

    def ready(self) -> None:
        from mining.services import churn, rules, segmentation
        from shopops.registry.services import trainer_register

        trainer_register(segmentation.segmentation_trainer())
        trainer_register(rules.rules_trainer())
        trainer_register(churn.churn_trainer())
