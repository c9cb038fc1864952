from django.apps import AppConfig


class StoreConfig(AppConfig):
    name = "shopops.store"
    label = "store"
    verbose_name = "Store"
