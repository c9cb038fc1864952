"""Recommendations in the REST API (include at ``/api/recommendations/``).

- ``GET customers/<id>/recommendations/?k=``: the customer's top-k. Staff with
  ``store.view_customer`` ask about anyone; a logged-in customer only about themselves (any
  other id is a 404, so a guessed id never confirms that a customer exists).
- ``GET customers/me/recommendations/?k=``: the logged-in customer's own.
- ``GET customers/<id>/segment-popular/?k=``: "popular with customers like you", same rules.
- ``GET products/<id>/similar/?k=``: public; active products only.
"""

from __future__ import annotations

from typing import ClassVar

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from recommendations import selectors
from shopops.store.api import ApiViewMixin
from shopops.store.models import Product
from shopops.store.selectors import customer_for_user, user_is_staff_with

MAX_K = 50


class ListInputSerializer(serializers.Serializer):
    k = serializers.IntegerField(min_value=1, max_value=MAX_K, default=10)


class RecommendationOutputSerializer(serializers.Serializer):
    product_id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    score = serializers.FloatField()
    reason_code = serializers.CharField()
    reason = serializers.CharField()


class RecommendationListOutputSerializer(serializers.Serializer):
    results = RecommendationOutputSerializer(many=True)


def _k(request: Request) -> int:
    serializer = ListInputSerializer(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["k"]


def _customer_id_visible(request: Request, customer_id: int) -> int:
    """``customer_id`` when the user may read that customer's lists; otherwise a 404."""
    if user_is_staff_with(user=request.user, permission="store.view_customer"):
        return customer_id
    customer = customer_for_user(user=request.user)
    if customer is None or customer.id != customer_id:
        raise Http404
    return customer_id


def _response(items: list[dict]) -> Response:
    return Response({"results": RecommendationOutputSerializer(items, many=True).data})


class CustomerRecommendationsView(ApiViewMixin, APIView):
    permission_classes: ClassVar[list] = [IsAuthenticated]

    @extend_schema(parameters=[ListInputSerializer], responses=RecommendationListOutputSerializer)
    def get(self, request: Request, customer_id: int) -> Response:
        customer_id = _customer_id_visible(request, customer_id)
        return _response(
            selectors.customer_recommendations_list(customer_id=customer_id, limit=_k(request))
        )


class MyRecommendationsView(ApiViewMixin, APIView):
    permission_classes: ClassVar[list] = [IsAuthenticated]

    @extend_schema(parameters=[ListInputSerializer], responses=RecommendationListOutputSerializer)
    def get(self, request: Request) -> Response:
        customer = customer_for_user(user=request.user)
        if customer is None:
            raise Http404
        return self.respond(request, customer)

    def respond(self, request: Request, customer) -> Response:
        """The list for the already looked-up customer (subclasses add to the response)."""
        return _response(
            selectors.customer_recommendations_list(customer_id=customer.id, limit=_k(request))
        )


class SegmentPopularView(ApiViewMixin, APIView):
    permission_classes: ClassVar[list] = [IsAuthenticated]

    @extend_schema(parameters=[ListInputSerializer], responses=RecommendationListOutputSerializer)
    def get(self, request: Request, customer_id: int) -> Response:
        customer_id = _customer_id_visible(request, customer_id)
        return _response(selectors.segment_popular_list(customer_id=customer_id, limit=_k(request)))


class SimilarProductsView(ApiViewMixin, APIView):
    permission_classes: ClassVar[list] = [AllowAny]

    @extend_schema(parameters=[ListInputSerializer], responses=RecommendationListOutputSerializer)
    def get(self, request: Request, product_id: int) -> Response:
        if not Product.objects.filter(id=product_id, is_active=True).exists():
            raise Http404
        return _response(selectors.similar_products_list(product_id=product_id, limit=_k(request)))


urlpatterns = [
    path(
        "customers/me/recommendations/",
        MyRecommendationsView.as_view(),
        name="recommendations-mine",
    ),
    path(
        "customers/<int:customer_id>/recommendations/",
        CustomerRecommendationsView.as_view(),
        name="recommendations-customer",
    ),
    path(
        "customers/<int:customer_id>/segment-popular/",
        SegmentPopularView.as_view(),
        name="recommendations-segment-popular",
    ),
    path(
        "products/<int:product_id>/similar/",
        SimilarProductsView.as_view(),
        name="recommendations-similar",
    ),
]
