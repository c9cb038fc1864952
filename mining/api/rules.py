"""REST API for association rules, under /api/mining/.

- ``GET products/<id>/frequently-bought-together/?limit=``: public for an active product (the
  storefront shows it); an inactive or unknown product is a 404 for everyone.
- ``GET rules/``: staff holding ``mining.view_associationrule``; the filters of the browser.
"""

from __future__ import annotations

from typing import ClassVar

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from mining.models import AssociationRule
from mining.selectors import rules as selectors
from shopops.store.api import ApiViewMixin
from shopops.store.models import Product
from shopops.store.permissions import staff_permission

FBT_LIMIT_MAX = 50
ID_MAX = 2**63 - 1


# --- serializers ----------------------------------------------------------------------------------


class FrequentlyBoughtTogetherInputSerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=FBT_LIMIT_MAX, default=5)


class FrequentlyBoughtTogetherItemSerializer(serializers.Serializer):
    product_id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=3)
    currency = serializers.CharField()
    confidence = serializers.FloatField()
    lift = serializers.FloatField()
    support = serializers.FloatField()
    antecedent_size = serializers.IntegerField(
        help_text="1 when the rule's left side is this product alone."
    )


class FrequentlyBoughtTogetherOutputSerializer(serializers.Serializer):
    product_id = serializers.IntegerField()
    model_version = serializers.IntegerField(
        allow_null=True, help_text="The rules version used; null when none is active."
    )
    results = FrequentlyBoughtTogetherItemSerializer(many=True)


class RuleListInputSerializer(serializers.Serializer):
    item = serializers.CharField(
        required=False, allow_blank=True, max_length=255, help_text="Product id, SKU or name."
    )
    min_lift = serializers.FloatField(required=False, min_value=0)
    min_confidence = serializers.FloatField(required=False, min_value=0, max_value=1)
    min_support = serializers.FloatField(required=False, min_value=0, max_value=1)
    ordering = serializers.ChoiceField(
        required=False,
        choices=[f"{sign}{field}" for field in selectors.RULE_SORTS for sign in ("-", "")],
        default=selectors.DEFAULT_RULE_SORT,
    )
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**31 - 1,
        help_text="Version number; the active one by default.",
    )


class RuleProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "sku", "name"]
        read_only_fields = fields


class RuleOutputSerializer(serializers.ModelSerializer):
    consequent = RuleProductSerializer(read_only=True)
    conviction = serializers.FloatField(
        allow_null=True, help_text="Null when infinite (confidence 1)."
    )

    class Meta:
        model = AssociationRule
        fields = [
            "id",
            "rank",
            "antecedent_ids",
            "antecedent_label",
            "antecedent_size",
            "consequent",
            "support",
            "confidence",
            "lift",
            "leverage",
            "conviction",
            "antecedent_count",
            "consequent_count",
            "rule_count",
            "n_baskets",
        ]
        read_only_fields = fields


# --- views ----------------------------------------------------------------------------------------


class FrequentlyBoughtTogetherView(ApiViewMixin, APIView):
    """Products bought together with an active product, best first (from the active rules)."""

    permission_classes: ClassVar[list] = [AllowAny]
    throttle_classes: ClassVar[list] = [AnonRateThrottle, UserRateThrottle]

    @extend_schema(
        parameters=[FrequentlyBoughtTogetherInputSerializer],
        responses=FrequentlyBoughtTogetherOutputSerializer,
    )
    def get(self, request: Request, product_id: int) -> Response:
        query = FrequentlyBoughtTogetherInputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        if (
            product_id > ID_MAX
            or not Product.objects.filter(pk=product_id, is_active=True).exists()
        ):
            raise Http404("No such product.")
        version = selectors.rules_version_get()
        results = selectors.frequently_bought_together(
            product_id=product_id, limit=query.validated_data["limit"]
        )
        output = FrequentlyBoughtTogetherOutputSerializer(
            {
                "product_id": product_id,
                "model_version": version.version if version else None,
                "results": results,
            }
        )
        return Response(output.data)


class RuleListView(ApiViewMixin, ListAPIView):
    """Rules of the active version (or ``version``), filtered and sorted like the browser."""

    permission_classes: ClassVar[list] = [staff_permission("mining.view_associationrule")]
    serializer_class = RuleOutputSerializer
    # The selector filters and sorts; the query is checked by RuleListInputSerializer.
    filter_backends: ClassVar[list] = []

    @extend_schema(parameters=[RuleListInputSerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = RuleListInputSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        version = selectors.rules_version_get(version=data.get("version"))
        if version is None:
            if data.get("version") is not None:
                raise ValidationError({"version": ["No rules version has this number."]})
            return AssociationRule.objects.none()
        return selectors.rule_list(
            version=version,
            item=data.get("item", ""),
            min_lift=data.get("min_lift"),
            min_confidence=data.get("min_confidence"),
            min_support=data.get("min_support"),
            sort=data["ordering"],
        )


urlpatterns = [
    path(
        "products/<int:product_id>/frequently-bought-together/",
        FrequentlyBoughtTogetherView.as_view(),
        name="mining-frequently-bought-together",
    ),
    path("rules/", RuleListView.as_view(), name="mining-rule-list"),
]
