"""REST API of the vision app, under /api/vision/.

- ``POST search/``: search by photo (multipart ``image``); anyone, rate-limited per client.
- ``GET products/<id>/similar/``: visually similar products of an active product; anyone.
- ``GET suggestions/`` and ``POST suggestions/<id>/accept|correct|dismiss/``: staff holding the
  suggestion model permissions.
"""

from __future__ import annotations

from typing import ClassVar

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import parsers, serializers, status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shopops.store.api import Conflict
from shopops.store.filters import ApiPagination
from shopops.store.models import Product
from shopops.store.permissions import staff_permission
from vision import selectors, services
from vision.models import CategorySuggestion, PhotoSearch
from vision.throttling import PhotoSearchThrottle

MAX_RESULTS = 24


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Search by photo is not available yet."
    default_code = "unavailable"


# --- serializers ----------------------------------------------------------------------------------


class PhotoSearchInputSerializer(serializers.Serializer):
    # A FileField, not an ImageField: the engine's safe decoder judges the bytes, once.
    image = serializers.FileField(help_text="A JPEG, PNG or WebP photo.")
    limit = serializers.IntegerField(min_value=1, max_value=MAX_RESULTS, default=8)


class ProductMatchSerializer(serializers.Serializer):
    product_id = serializers.IntegerField()
    name = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=3)
    currency = serializers.CharField()
    category = serializers.CharField()
    image_url = serializers.SerializerMethodField()
    similarity = serializers.FloatField(help_text="Cosine similarity of the photos, -1 to 1.")

    def get_image_url(self, match) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(match.image_url) if request else match.image_url


class PhotoSearchOutputSerializer(serializers.Serializer):
    model_version = serializers.IntegerField(source="model_version.version")
    results = ProductMatchSerializer(many=True, source="matches")


class SimilarProductsOutputSerializer(serializers.Serializer):
    product_id = serializers.IntegerField()
    results = ProductMatchSerializer(many=True)


class SuggestionOutputSerializer(serializers.ModelSerializer):
    product_id = serializers.IntegerField(source="image.product_id")
    product_name = serializers.CharField(source="image.product.name")
    current_category_id = serializers.IntegerField(
        source="image.product.category_id", allow_null=True
    )
    decided_by = serializers.CharField(source="decided_by.get_username", allow_null=True)

    class Meta:
        model = CategorySuggestion
        fields = [
            "id",
            "image",
            "product_id",
            "product_name",
            "current_category_id",
            "predicted_category",
            "confidence",
            "model_version",
            "status",
            "corrected_category",
            "decided_by",
            "decided_at",
            "created_at",
        ]
        read_only_fields = fields


class SuggestionCorrectInputSerializer(serializers.Serializer):
    category = serializers.IntegerField(min_value=1, help_text="The right category's id.")


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    reason = serializers.CharField(required=False)


# --- views ----------------------------------------------------------------------------------------


class PhotoSearchView(APIView):
    """Upload a photo; get the catalogue's most similar active products."""

    permission_classes: ClassVar[list] = [AllowAny]
    throttle_classes: ClassVar[list] = [PhotoSearchThrottle]
    parser_classes: ClassVar[list] = [parsers.MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": PhotoSearchInputSerializer},
        responses={
            200: PhotoSearchOutputSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Not a usable photo; not stored."),
            429: OpenApiResponse(description="Too many searches from this client; retry later."),
            503: OpenApiResponse(ErrorSerializer, description="No image model trained yet."),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = PhotoSearchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            data = services.upload_read(upload=serializer.validated_data["image"])
            result = services.photo_search(
                data=data,
                channel=PhotoSearch.Channel.API,
                user=request.user,
                limit=serializer.validated_data["limit"],
            )
        except services.PhotoRejected as error:
            return Response(
                {"detail": error.message, "reason": error.reason},
                status=status.HTTP_400_BAD_REQUEST,
            )
        except services.PhotoSearchUnavailable as error:
            raise ServiceUnavailable(str(error)) from error
        return Response(PhotoSearchOutputSerializer(result, context={"request": request}).data)


class SimilarProductsView(APIView):
    """Products that look like this one (for "you may also like" and recommendations)."""

    permission_classes: ClassVar[list] = [AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description="1-24, default 6")],
        responses={200: SimilarProductsOutputSerializer},
    )
    def get(self, request: Request, product_id: int) -> Response:
        if not Product.objects.filter(pk=product_id, is_active=True).exists():
            raise NotFound("No such product.")
        try:
            limit = min(max(int(request.query_params.get("limit", 6)), 1), MAX_RESULTS)
        except ValueError:
            raise ValidationError({"limit": ["A whole number is required."]}) from None
        matches = selectors.product_similar_products(product_id=product_id, limit=limit)
        output = SimilarProductsOutputSerializer(
            {"product_id": product_id, "results": matches}, context={"request": request}
        )
        return Response(output.data)


class SuggestionListView(ListAPIView):
    """Category suggestions, pending first by default (``?status=`` filters; ``all`` for all)."""

    permission_classes: ClassVar[list] = [staff_permission("vision.view_categorysuggestion")]
    serializer_class = SuggestionOutputSerializer
    pagination_class = ApiPagination

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "status",
                str,
                enum=[*CategorySuggestion.Status.values, "all"],
                description="default: pending",
            )
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        wanted = self.request.query_params.get("status", CategorySuggestion.Status.PENDING)
        if wanted != "all" and wanted not in CategorySuggestion.Status.values:
            raise ValidationError({"status": [f"Unknown status {wanted!r}."]})
        return selectors.suggestion_list(status=None if wanted == "all" else wanted)


class SuggestionDecisionView(APIView):
    permission_classes: ClassVar[list] = [staff_permission("vision.change_categorysuggestion")]
    decision = ""

    def decide(self, request: Request, suggestion_id: int) -> CategorySuggestion:
        raise NotImplementedError

    def post(self, request: Request, suggestion_id: int) -> Response:
        try:
            suggestion = self.decide(request, suggestion_id)
        except CategorySuggestion.DoesNotExist:
            raise NotFound("No such suggestion.") from None
        except services.SuggestionError as error:
            raise Conflict(str(error)) from error
        fresh = selectors.suggestion_list(status=None).get(pk=suggestion.pk)
        return Response(SuggestionOutputSerializer(fresh).data)


_DECISION_RESPONSES = {
    200: SuggestionOutputSerializer,
    404: OpenApiResponse(description="No such suggestion."),
    409: OpenApiResponse(description="Already decided, or the category is gone."),
}


class SuggestionAcceptView(SuggestionDecisionView):
    """Accept: the product takes the predicted category."""

    @extend_schema(request=None, responses=_DECISION_RESPONSES)
    def post(self, request: Request, suggestion_id: int) -> Response:
        return super().post(request, suggestion_id)

    def decide(self, request, suggestion_id):
        return services.suggestion_accept(suggestion_id=suggestion_id, user=request.user)


class SuggestionCorrectView(SuggestionDecisionView):
    """Correct: the product takes the given category; the image becomes a training example."""

    @extend_schema(request=SuggestionCorrectInputSerializer, responses=_DECISION_RESPONSES)
    def post(self, request: Request, suggestion_id: int) -> Response:
        return super().post(request, suggestion_id)

    def decide(self, request, suggestion_id):
        serializer = SuggestionCorrectInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return services.suggestion_correct(
            suggestion_id=suggestion_id,
            category_id=serializer.validated_data["category"],
            user=request.user,
        )


class SuggestionDismissView(SuggestionDecisionView):
    """Dismiss: nothing changes and the suggestion leaves the pending list."""

    @extend_schema(request=None, responses=_DECISION_RESPONSES)
    def post(self, request: Request, suggestion_id: int) -> Response:
        return super().post(request, suggestion_id)

    def decide(self, request, suggestion_id):
        return services.suggestion_dismiss(suggestion_id=suggestion_id, user=request.user)
