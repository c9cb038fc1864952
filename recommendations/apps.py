from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "recommendations"
    # Merchant pages register here as (title, url name, order) once the app has them.
    dashboard_links = [("Recommendations", "recommendations:overview", 50)]

    def ready(self) -> None:
        from recommendations.services import (
            catalogue_stamp_renew,
            customer_stamp_renew,
            recommendations_trainer,
        )
        from shopops.registry.services import trainer_register
        from shopops.store.services import (
            customer_orders_changed_hooks,
            product_listing_changed_hooks,
        )

        trainer_register(recommendations_trainer())
        # Cached lists leave out what a customer bought and what can't be bought: these keep
        # them current when the store changes (selectors._serving_read).
        product_listing_changed_hooks.register(catalogue_stamp_renew)
        customer_orders_changed_hooks.register(customer_stamp_renew)
