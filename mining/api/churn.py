"""Churn risk in the REST API, under /api/mining/ (the active churn version's scores).

Churn scores are the shop's internal view of its customers, so both endpoints are for staff
holding ``mining.view_churnscore`` and ``store.view_customer``; a customer never sees a churn
score, their own included (403), and an anonymous client is told to authenticate (401).

- ``GET churn/at-risk/``: every scored customer, most yearly value at risk first, paginated.
- ``GET customers/<id>/churn/``: one customer's score (404 when the active version has none).
"""

from __future__ import annotations

from typing import ClassVar

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mining.models import ChurnScore
from mining.selectors import churn as selectors
from shopops.store.api import ApiViewMixin
from shopops.store.permissions import staff_permission

CanViewChurn = staff_permission("mining.view_churnscore", "store.view_customer")


class ChurnReasonSerializer(serializers.Serializer):
    feature = serializers.CharField()
    label = serializers.CharField()
    value = serializers.FloatField()
    typical = serializers.FloatField()
    effect = serializers.FloatField(help_text="Drop in probability at the typical value.")
    text = serializers.CharField()


class ChurnScoreOutputSerializer(serializers.ModelSerializer):
    customer_id = serializers.IntegerField(read_only=True)
    external_id = serializers.CharField(source="customer.external_id", read_only=True)
    name = serializers.CharField(source="customer.name", read_only=True)
    email = serializers.EmailField(source="customer.email", read_only=True)
    model_version = serializers.IntegerField(source="model_version.version", read_only=True)
    reasons = ChurnReasonSerializer(many=True, read_only=True)

    class Meta:
        model = ChurnScore
        fields = [
            "rank",
            "customer_id",
            "external_id",
            "name",
            "email",
            "model_version",
            "probability",
            "value",
            "risk_score",
            "recency_days",
            "frequency",
            "reasons",
        ]
        read_only_fields = fields


class ChurnAtRiskListView(ApiViewMixin, ListAPIView):
    """The active churn version's customers by value at risk (an empty list before training)."""

    serializer_class = ChurnScoreOutputSerializer
    permission_classes: ClassVar[list] = [CanViewChurn]
    filter_backends: ClassVar[list] = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request data
            return ChurnScore.objects.none()
        return selectors.churn_at_risk_list(version=selectors.churn_active_version())


class CustomerChurnView(ApiViewMixin, APIView):
    """One customer's churn score in the active churn version."""

    permission_classes: ClassVar[list] = [CanViewChurn]

    @extend_schema(responses=ChurnScoreOutputSerializer)
    def get(self, request: Request, customer_id: int) -> Response:
        score = selectors.customer_churn_score(
            customer_id=customer_id, version=selectors.churn_active_version()
        )
        if score is None:
            raise Http404("No churn score for this customer in the active churn model.")
        return Response(ChurnScoreOutputSerializer(score).data)


urlpatterns = [
    path("churn/at-risk/", ChurnAtRiskListView.as_view(), name="mining-churn-at-risk"),
    path(
        "customers/<int:customer_id>/churn/",
        CustomerChurnView.as_view(),
        name="mining-customer-churn",
    ),
]
