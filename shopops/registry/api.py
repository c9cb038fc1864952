"""Read API over the model registry, plus promotion and rollback (staff only)."""

from __future__ import annotations

from typing import ClassVar

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import ReadOnlyModelViewSet

from shopops.registry import services
from shopops.registry.models import ModelVersion
from shopops.registry.serializers import (
    ModelVersionOutputSerializer,
    RegistryErrorSerializer,
    RollbackInputSerializer,
)
from shopops.store.api import ApiViewMixin
from shopops.store.permissions import StaffModelPermissions, staff_permission

#: Promotion and rollback change which version serves: staff with the change permission only.
CanChangeModelVersions = staff_permission("registry.change_modelversion")

_REFUSED = OpenApiResponse(
    RegistryErrorSerializer, description="The registry refused, and says why."
)


class ModelVersionViewSet(ApiViewMixin, ReadOnlyModelViewSet):
    """Every trained version of every kind; staff with ``registry.view_modelversion``."""

    queryset = ModelVersion.objects.order_by("kind", "-version")
    serializer_class = ModelVersionOutputSerializer
    permission_classes: ClassVar[list] = [StaffModelPermissions]
    filterset_fields: ClassVar[list] = ["kind", "status"]
    search_fields: ClassVar[list] = ["kind"]
    ordering_fields: ClassVar[list] = ["kind", "version", "created_at", "finished_at"]

    @extend_schema(request=None, responses={200: ModelVersionOutputSerializer, 400: _REFUSED})
    @action(detail=True, methods=["post"], permission_classes=[CanChangeModelVersions])
    def promote(self, request: Request, pk: str | None = None) -> Response:
        """Make this version the active one of its kind."""
        version = self.get_object()
        try:
            version = services.model_version_promote(version_id=version.id)
        except ValueError as error:
            return Response({"detail": str(error)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(ModelVersionOutputSerializer(version).data)


class RollbackView(ApiViewMixin, APIView):
    """Re-activate the newest ready version older than the active one of a kind."""

    permission_classes: ClassVar[list] = [CanChangeModelVersions]

    @extend_schema(
        request=RollbackInputSerializer,
        responses={200: ModelVersionOutputSerializer, 400: _REFUSED},
    )
    def post(self, request: Request) -> Response:
        serializer = RollbackInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            version = services.model_version_rollback(kind=serializer.validated_data["kind"])
        except ValueError as error:
            return Response({"detail": str(error)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(ModelVersionOutputSerializer(version).data)
