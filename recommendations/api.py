"""Recommendations in the REST API (include at ``/api/recommendations/``).

- ``GET customers/<id>/recommendations/?k=``: the customer's top-k. Staff with
  ``store.view_customer`` ask about anyone; a logged-in customer only about themselves (any
  other id is a 404, so a guessed id never confirms that a customer exists).
- ``GET customers/me/recommendations/?k=``: the logged-in customer's own.
- ``GET customers/<id>/segment-popular/?k=``: "popular with customers like you", same rules.
- ``GET products/<id>/similar/?k=``: public; active products only.
- ``GET products/<id>/frequently-bought-together/?k=``: public; active products only; from
  the active association rules ("often bought with X").

While an A/B test runs, a customer's list is their variant's (the ``X-Experiment`` and
``X-Experiment-Variant`` headers name it), and each list a customer is served (not a staff
preview) is logged as an impression.

The lists come from the cache on a warm request (see :mod:`recommendations.selectors`): the
views only authenticate, find the customer and shape the cached items.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from recommendations import experiments, selectors
from recommendations.authentication import (
    CachedCredentials,
    CachedTokenAuthentication,
    token_credentials_cached,
)
from shopops.store.api import ApiViewMixin
from shopops.store.models import Product
from shopops.store.selectors import customer_for_user, user_is_staff_with

MAX_K = 50
# Accept headers the JSON-only list views answer without negotiating.
WARM_ACCEPT = frozenset({"*/*", "application/json"})


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


def _plain_k(raw: str | None) -> int | None:
    """``k`` when ``raw`` is absent (the default) or a digit string in range; else None.

    A hand check of the common case, which spares a serializer per request.
    """
    if raw is None:
        return ListInputSerializer().fields["k"].default
    if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_K:
        return int(raw)
    return None


def _k(request: Request) -> int:
    k = _plain_k(request.query_params.get("k"))
    if k is not None:
        return k
    serializer = ListInputSerializer(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["k"]


def _own_customer_id(request: Request) -> int | None:
    """The logged-in user's customer id: from the cached token when there is one."""
    if isinstance(request.auth, CachedCredentials):
        return request.auth.customer_id
    customer = customer_for_user(user=request.user)
    return customer.id if customer else None


def _viewer_customer_id(request: Request, customer_id: int) -> tuple[int, bool]:
    """``(customer_id, is_the_customer)`` when the user may read that customer's lists
    (``is_the_customer`` is False for staff previewing); otherwise a 404."""
    if user_is_staff_with(user=request.user, permission="store.view_customer"):
        return customer_id, False
    if _own_customer_id(request) != customer_id:
        raise Http404
    return customer_id, True


class ListViewMixin(ApiViewMixin):
    """The list endpoints: read-only JSON on the serving hot path, so token lookups are cached
    (:mod:`recommendations.authentication`) and there is no browsable-API renderer to negotiate
    with (the OpenAPI docs at /api/docs/ describe and try them)."""

    authentication_classes: ClassVar[list] = [CachedTokenAuthentication, SessionAuthentication]
    permission_classes: ClassVar[list] = [IsAuthenticated]
    renderer_classes: ClassVar[list] = [JSONRenderer]


def _results(items: list[dict]) -> list[dict]:
    """The items as :class:`RecommendationOutputSerializer` writes them (a test pins that),
    without running a serializer per item: the cached items already have the fields."""
    return [{**item, "price": f"{item['price']:.2f}"} for item in items]


def _response(items: list[dict]) -> Response:
    return Response({"results": _results(items)})


def _served_response(request: Request, customer_id: int, *, is_the_customer: bool) -> Response:
    served = selectors.customer_recommendations_served(customer_id=customer_id, limit=_k(request))
    response = _response(served.items)
    if served.experiment is not None:
        if is_the_customer:
            experiments.experiment_impression_record(
                experiment=served.experiment,
                customer_id=customer_id,
                product_ids=[item["product_id"] for item in served.items],
            )
        response["X-Experiment"] = served.experiment.name
        response["X-Experiment-Variant"] = served.variant
    return response


def _warm_k(query_string: str) -> int | None:
    """``k`` from a query string that is empty or exactly ``k=<1..MAX_K>``; else None."""
    if not query_string:
        return _plain_k(None)
    name, _, value = query_string.partition("=")
    return _plain_k(value) if name == "k" else None


class WarmListDispatchMixin:
    """A customer's served list, answered before DRF's dispatch when everything it needs is
    already in this process or in one cache round trip.

    That is the common request on the serving hot path: a GET with a token this process has
    looked up in the last :data:`~recommendations.authentication.TOKEN_CACHE_SECONDS`, for the
    token's own customer (or by a superuser), a plain ``?k=``, JSON accepted, the list cached
    for the active version and no A/B test running. DRF's request wrapping, authenticator
    loop, permission check and content negotiation would only re-derive what the cached token
    already says; skipping them halves the request's CPU (bench/serve_recommendations.py).
    Anything else (first sight of a token, session login, staff by permission, an experiment
    to log, an odd query or Accept header, a cold list) goes through DRF unchanged, and the
    answer is the same bytes and headers either way (tests/recommendations/test_api.py).
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = self._warm_response(request, kwargs.get("customer_id"))
        if response is not None:
            return response
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]

    def _warm_response(self, request: HttpRequest, customer_id: int | None) -> HttpResponse | None:
        meta = request.META
        if request.method != "GET" or meta.get("HTTP_ACCEPT", "*/*") not in WARM_ACCEPT:
            return None
        limit = _warm_k(meta.get("QUERY_STRING", ""))
        credentials = token_credentials_cached(authorization=meta.get("HTTP_AUTHORIZATION", ""))
        if limit is None or credentials is None:
            return None
        own_customer_id = credentials["customer_id"]
        if customer_id is None:
            customer_id = own_customer_id
        elif customer_id != own_customer_id and not credentials["is_superuser"]:
            return None
        if customer_id is None:
            return None
        items = selectors.customer_recommendations_cached(customer_id=customer_id, limit=limit)
        if items is None:
            return None
        body = JSONRenderer().render({"results": _results(items)})
        response = HttpResponse(body, content_type=JSONRenderer.media_type)
        response["Allow"] = ", ".join(self.allowed_methods)  # type: ignore[attr-defined]
        return response


class CustomerRecommendationsView(WarmListDispatchMixin, ListViewMixin, APIView):
    @extend_schema(parameters=[ListInputSerializer], responses=RecommendationListOutputSerializer)
    def get(self, request: Request, customer_id: int) -> Response:
        customer_id, is_the_customer = _viewer_customer_id(request, customer_id)
        return _served_response(request, customer_id, is_the_customer=is_the_customer)


class MyRecommendationsView(WarmListDispatchMixin, ListViewMixin, APIView):
    @extend_schema(parameters=[ListInputSerializer], responses=RecommendationListOutputSerializer)
    def get(self, request: Request) -> Response:
        customer_id = _own_customer_id(request)
        if customer_id is None:
            raise Http404
        return _served_response(request, customer_id, is_the_customer=True)


class SegmentPopularView(ListViewMixin, APIView):
    @extend_schema(parameters=[ListInputSerializer], responses=RecommendationListOutputSerializer)
    def get(self, request: Request, customer_id: int) -> Response:
        customer_id, _is_the_customer = _viewer_customer_id(request, customer_id)
        return _response(selectors.segment_popular_list(customer_id=customer_id, limit=_k(request)))


class SimilarProductsView(ApiViewMixin, APIView):
    permission_classes: ClassVar[list] = [AllowAny]

    @extend_schema(parameters=[ListInputSerializer], responses=RecommendationListOutputSerializer)
    def get(self, request: Request, product_id: int) -> Response:
        if not Product.objects.filter(id=product_id, is_active=True).exists():
            raise Http404
        return _response(selectors.similar_products_list(product_id=product_id, limit=_k(request)))


class FrequentlyBoughtTogetherView(ApiViewMixin, APIView):
    permission_classes: ClassVar[list] = [AllowAny]

    @extend_schema(parameters=[ListInputSerializer], responses=RecommendationListOutputSerializer)
    def get(self, request: Request, product_id: int) -> Response:
        if not Product.objects.filter(id=product_id, is_active=True).exists():
            raise Http404
        return _response(
            selectors.frequently_bought_together_list(product_id=product_id, limit=_k(request))
        )


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
    path(
        "products/<int:product_id>/frequently-bought-together/",
        FrequentlyBoughtTogetherView.as_view(),
        name="recommendations-frequently-bought-together",
    ),
]
