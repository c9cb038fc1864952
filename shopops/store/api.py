"""The shop's REST API: catalogue, customers, orders and the behaviour-event batch ingest.

Every view is thin: an input serializer checks the request's shape, one service (writes) or
selector (reads, already scoped to the user) does the work, an output serializer renders it.
Who may do what is in ``store.permissions``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import IntegrityError
from django.db.models import Model
from django.utils.functional import SimpleLazyObject
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import parsers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ParseError, ValidationError
from rest_framework.filters import SearchFilter
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView
from rest_framework.viewsets import ModelViewSet

from shopops.store import selectors, services
from shopops.store.filters import (
    ApiPagination,
    CategoryFilter,
    CustomerFilter,
    OrderFilter,
    ProductFilter,
    StableOrderingFilter,
)
from shopops.store.permissions import (
    CatalogPermissions,
    CustomerScopedPermissions,
    staff_permission,
)
from shopops.store.serializers import (
    CategoryInputSerializer,
    CategoryOutputSerializer,
    CustomerInputSerializer,
    CustomerOutputSerializer,
    EventBatchErrorSerializer,
    EventBatchInputSerializer,
    EventBatchOutputSerializer,
    OrderCreateInputSerializer,
    OrderOutputSerializer,
    OrderUpdateInputSerializer,
    ProductImageInputSerializer,
    ProductImageOutputSerializer,
    ProductInputSerializer,
    ProductOutputSerializer,
)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the data as it stands."
    default_code = "conflict"


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, except that absurdly nested JSON is a 400, not a RecursionError."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None


class ApiViewMixin:
    """What every API view shares: authentication, parsing, pagination, filters, errors."""

    # Token first: a client without credentials is then told 401 with
    # ``WWW-Authenticate: Token`` instead of a bare 403 (DRF asks the first class for the header).
    authentication_classes: ClassVar[list] = [TokenAuthentication, SessionAuthentication]
    parser_classes: ClassVar[list] = [JSONParser, parsers.FormParser, parsers.MultiPartParser]
    pagination_class = ApiPagination
    filter_backends: ClassVar[list] = [DjangoFilterBackend, SearchFilter, StableOrderingFilter]

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, services.InputError):
            exc = ValidationError(exc.errors)
        elif isinstance(exc, services.DeleteBlocked):
            exc = Conflict(str(exc))
        elif isinstance(exc, IntegrityError):
            # Validation passed but the write did not: most often a unique value taken by a
            # concurrent request between the two. The transaction has rolled back.
            exc = Conflict("This change conflicts with data already stored; reload and retry.")
        return super().handle_exception(exc)  # type: ignore[misc]


class ServiceModelViewSet(ApiViewMixin, ModelViewSet):
    """CRUD where writes go through services and the answer is always the output serializer."""

    input_serializer_class: type[Serializer]
    output_serializer_class: type[Serializer]
    write_actions = frozenset({"create", "update", "partial_update"})

    def get_serializer_class(self) -> type[Serializer]:
        if self.action in self.write_actions:
            return self.input_serializer_class
        return self.output_serializer_class

    def get_serializer_context(self) -> dict[str, Any]:
        # Lazy, so the schema generator and write-only paths never run the query.
        return {
            **super().get_serializer_context(),
            "category_paths": SimpleLazyObject(selectors.category_paths),
        }

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = self.service_create(serializer.validated_data)
        return Response(self.render_output(instance), status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        serializer = self.get_serializer(
            instance, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        instance = self.service_update(instance, serializer.validated_data)
        return Response(self.render_output(instance))

    def perform_destroy(self, instance: Model) -> None:
        self.service_delete(instance)

    def render_output(self, instance: Model) -> dict[str, Any]:
        # Re-read through the scoped queryset so the answer carries its joins (images, items).
        fresh = self.get_queryset().filter(pk=instance.pk).first() or instance
        return self.output_serializer_class(fresh, context=self.get_serializer_context()).data

    def service_create(self, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def service_update(self, instance: Model, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def service_delete(self, instance: Model) -> None:
        raise NotImplementedError


_CONFLICT = OpenApiResponse(description="Other rows still refer to it (or a unique value clash).")


def _crud_schema(input_serializer: type[Serializer], output_serializer: type[Serializer]):
    return extend_schema_view(
        create=extend_schema(request=input_serializer, responses={201: output_serializer}),
        update=extend_schema(request=input_serializer, responses=output_serializer),
        partial_update=extend_schema(request=input_serializer, responses=output_serializer),
        destroy=extend_schema(responses={204: None, 409: _CONFLICT}),
    )


@_crud_schema(CategoryInputSerializer, CategoryOutputSerializer)
class CategoryViewSet(ServiceModelViewSet):
    """The category tree. Anyone reads; staff write by model permission."""

    permission_classes: ClassVar[list] = [CatalogPermissions]
    input_serializer_class = CategoryInputSerializer
    output_serializer_class = CategoryOutputSerializer
    filterset_class = CategoryFilter
    search_fields: ClassVar[list] = ["name", "slug"]
    ordering_fields: ClassVar[list] = ["name", "id"]

    def get_queryset(self):
        return selectors.category_list()

    def service_create(self, data):
        return services.category_create(data=data)

    def service_update(self, instance, data):
        return services.category_update(category=instance, data=data)

    def service_delete(self, instance):
        services.category_delete(category=instance)


@_crud_schema(ProductInputSerializer, ProductOutputSerializer)
class ProductViewSet(ServiceModelViewSet):
    """Products. Anyone reads the active ones; staff with ``view_product`` see every one."""

    permission_classes: ClassVar[list] = [CatalogPermissions]
    input_serializer_class = ProductInputSerializer
    output_serializer_class = ProductOutputSerializer
    filterset_class = ProductFilter
    search_fields: ClassVar[list] = ["sku", "name", "description"]
    ordering_fields: ClassVar[list] = ["price", "name", "created_at"]

    def get_queryset(self):
        return selectors.product_list(user=self.request.user)

    def service_create(self, data):
        return services.product_create(data=data)

    def service_update(self, instance, data):
        return services.product_update(product=instance, data=data)

    def service_delete(self, instance):
        services.product_delete(product=instance)

    @extend_schema(
        request={"multipart/form-data": ProductImageInputSerializer},
        responses={201: ProductImageOutputSerializer},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="images",
        parser_classes=[parsers.MultiPartParser],
        permission_classes=[staff_permission("store.add_productimage")],
    )
    def add_image(self, request: Request, pk: str | None = None) -> Response:
        """Add a photo to a product (multipart: ``image``, ``alt_text``, ``position``)."""
        product = self.get_object()
        serializer = ProductImageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        image = services.product_image_create(product=product, data=serializer.validated_data)
        output = ProductImageOutputSerializer(image, context=self.get_serializer_context())
        return Response(output.data, status=status.HTTP_201_CREATED)


@_crud_schema(CustomerInputSerializer, CustomerOutputSerializer)
class CustomerViewSet(ServiceModelViewSet):
    """Customers: staff by model permission; a logged-in customer reads their own record."""

    permission_classes: ClassVar[list] = [CustomerScopedPermissions]
    input_serializer_class = CustomerInputSerializer
    output_serializer_class = CustomerOutputSerializer
    filterset_class = CustomerFilter
    search_fields: ClassVar[list] = ["name", "email", "external_id"]
    ordering_fields: ClassVar[list] = ["id", "name", "created_at", "first_seen_at"]

    def get_queryset(self):
        return selectors.customer_list(user=self.request.user)

    def service_create(self, data):
        return services.customer_create(data=data)

    def service_update(self, instance, data):
        return services.customer_update(customer=instance, data=data)

    def service_delete(self, instance):
        services.customer_delete(customer=instance)


@extend_schema_view(
    create=extend_schema(
        request=OrderCreateInputSerializer, responses={201: OrderOutputSerializer}
    ),
    partial_update=extend_schema(
        request=OrderUpdateInputSerializer, responses=OrderOutputSerializer
    ),
)
class OrderViewSet(ServiceModelViewSet):
    """Orders with their lines. Staff by model permission; a customer reads their own.

    An order's lines and totals are fixed when it is created (prices from the products, totals
    computed by the server); afterwards only its status and contact details change.
    """

    permission_classes: ClassVar[list] = [CustomerScopedPermissions]
    http_method_names: ClassVar[list] = ["get", "post", "patch", "delete", "head", "options"]
    output_serializer_class = OrderOutputSerializer
    filterset_class = OrderFilter
    search_fields: ClassVar[list] = ["external_number", "email"]
    ordering_fields: ClassVar[list] = ["placed_at", "total", "id"]

    def get_serializer_class(self) -> type[Serializer]:
        if self.action == "create":
            return OrderCreateInputSerializer
        if self.action in {"update", "partial_update"}:
            return OrderUpdateInputSerializer
        return OrderOutputSerializer

    def get_queryset(self):
        return selectors.order_list(user=self.request.user)

    def service_create(self, data):
        return services.order_create(
            customer=data["customer"],
            items=[
                services.OrderLineInput(product_id=item["product"], quantity=item["quantity"])
                for item in data["items"]
            ],
            status=data["status"],
            placed_at=data["placed_at"],
            external_number=data["external_number"],
            email=data["email"],
            country=data["country"],
        )

    def service_update(self, instance, data):
        return services.order_update(order=instance, data=data)

    def service_delete(self, instance):
        services.order_delete(order=instance)


class EventBatchView(ApiViewMixin, APIView):
    """Batch ingest of storefront behaviour events: all are written, or none.

    Anonymous visitors post with a ``session_key``; a logged-in customer's events are always
    their own; staff with ``store.add_event`` may post for any customer.
    """

    permission_classes: ClassVar[list] = [AllowAny]
    throttle_classes: ClassVar[list] = [AnonRateThrottle, UserRateThrottle]

    @extend_schema(
        request=EventBatchInputSerializer,
        responses={
            201: EventBatchOutputSerializer,
            400: OpenApiResponse(
                EventBatchErrorSerializer, description="Nothing was written; errors by index."
            ),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = EventBatchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = services.events_ingest(
            events=serializer.validated_data["events"], actor=request.user
        )
        return Response(
            EventBatchOutputSerializer({"created": created}).data, status=status.HTTP_201_CREATED
        )
