"""Merchant pages of the model registry, mounted at /dashboard/models/."""

from django.urls import path

from shopops.registry import views

app_name = "registry"
urlpatterns = [
    path("", views.runs, name="runs"),
    path("progress.json", views.progress, name="progress"),
    path("train/", views.train, name="train"),
    path("rollback/", views.rollback, name="rollback"),
    path("<int:version_id>/", views.detail, name="detail"),
    path("<int:version_id>/promote/", views.promote, name="promote"),
]
