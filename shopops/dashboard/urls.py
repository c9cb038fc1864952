from django.urls import path

from shopops.dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.home, name="home"),
    path("imports/", views.imports, name="imports"),
    path("products/", views.products, name="products"),
    path("products/<int:product_id>/", views.product_detail, name="product"),
]
