"""The public storefront, mounted at the site root."""

from django.urls import path

from shopops.store import views

app_name = "storefront"
urlpatterns = [
    path("", views.home, name="home"),
    path("products/<int:product_id>/", views.product_detail, name="product"),
]
