from django.apps import AppConfig


class VisionConfig(AppConfig):
    name = "vision"
    verbose_name = "Vision"
    dashboard_links: list[tuple[str, str, int]] = [
        ("Product photos", "vision:overview", 70),
    ]
    dashboard_product_panels = ["vision.views.similar_products_panel"]
    # The storefront's header links here (shopops.store.context_processors).
    storefront_links: list[tuple[str, str, int]] = [
        ("Search by photo", "vision_storefront:search", 10),
    ]

    def ready(self) -> None:
        from shopops.registry.services import trainer_register
        from shopops.store.services import product_image_added_hooks
        from vision.services import cnn_trainer

        trainer_register(cnn_trainer())
        product_image_added_hooks.register(_product_image_added)


def _product_image_added(*, image_id: int) -> None:
    """Store hook (already after commit): categorise and index the new picture off-request."""
    from vision.tasks import product_image_analyse_task

    product_image_analyse_task.delay(image_id)
