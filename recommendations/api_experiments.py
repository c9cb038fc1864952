"""A/B testing in the REST API (under ``/api/recommendations/``).

- ``POST clicks/``: the logged-in customer clicked a recommended product shown to them under
  an experiment's variant. 201; 400 on bad input (unknown product, no such active experiment,
  a variant that is not theirs); 403 for a user who is not a customer.

Impressions are logged by the list endpoints themselves (:mod:`recommendations.api`).
"""

from __future__ import annotations

from typing import ClassVar

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from recommendations import experiments
from shopops.store.api import ApiViewMixin
from shopops.store.models import Product
from shopops.store.selectors import customer_for_user


class ClickInputSerializer(serializers.Serializer):
    experiment = serializers.SlugField(max_length=64)
    variant = serializers.CharField(max_length=64)
    product_id = serializers.IntegerField(min_value=1)

    def validate_product_id(self, value: int) -> int:
        if not Product.objects.filter(id=value).exists():
            raise serializers.ValidationError("No such product.")
        return value


class ClickOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    experiment = serializers.CharField()
    variant = serializers.CharField()
    product_id = serializers.IntegerField()


class RecommendationClickView(ApiViewMixin, APIView):
    permission_classes: ClassVar[list] = [IsAuthenticated]

    @extend_schema(request=ClickInputSerializer, responses={201: ClickOutputSerializer})
    def post(self, request: Request) -> Response:
        customer = customer_for_user(user=request.user)
        if customer is None:
            raise PermissionDenied("Only customers log clicks.")
        serializer = ClickInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            event = experiments.experiment_click_record(
                experiment_name=data["experiment"],
                variant=data["variant"],
                customer_id=customer.id,
                product_id=data["product_id"],
            )
        except experiments.ExperimentError as error:
            raise ValidationError({"detail": str(error)}) from error
        output = {
            "id": event.id,
            "experiment": data["experiment"],
            "variant": data["variant"],
            "product_id": data["product_id"],
        }
        return Response(ClickOutputSerializer(output).data, status=status.HTTP_201_CREATED)
