"""REST API routes for the model registry (mounted at ``/api/registry/``)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from shopops.registry.api import ModelVersionViewSet, RollbackView

router = DefaultRouter()
router.register("models", ModelVersionViewSet, basename="modelversion")

urlpatterns = [
    path("rollback/", RollbackView.as_view(), name="modelversion-rollback"),
    path("", include(router.urls)),
]
