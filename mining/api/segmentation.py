"""Customer segments in the REST API, under /api/mining/ (the active segmentation version).

- ``GET segments/``: the segments (staff with ``mining.view_segment``).
- ``GET segments/<key>/members/``: a segment's customers, paginated (staff with
  ``mining.view_customersegment`` and ``store.view_customer``).
- ``GET customers/<id>/segment/``: a customer's segment. Staff with
  ``mining.view_customersegment`` ask about anyone; a logged-in customer only about
  themselves (any other id is a 404, as for a customer with no segment).
"""

from __future__ import annotations

from typing import ClassVar

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mining.models import CustomerSegment, Segment
from mining.selectors import segmentation as selectors
from shopops.store.api import ApiViewMixin
from shopops.store.permissions import StaffModelPermissions, staff_permission


class RfmSerializer(serializers.Serializer):
    r = serializers.IntegerField(min_value=1, max_value=5)
    f = serializers.IntegerField(min_value=1, max_value=5)
    m = serializers.IntegerField(min_value=1, max_value=5)


class SegmentOutputSerializer(serializers.ModelSerializer):
    model_version = serializers.IntegerField(source="model_version.version", read_only=True)
    rfm = serializers.SerializerMethodField()
    feature_means = serializers.DictField(child=serializers.FloatField(), read_only=True)

    class Meta:
        model = Segment
        fields = [
            "key",
            "name",
            "model_version",
            "is_noise",
            "size",
            "customer_share",
            "revenue",
            "revenue_share",
            "rfm",
            "feature_means",
        ]
        read_only_fields = fields

    @extend_schema_field(RfmSerializer(allow_null=True))
    def get_rfm(self, segment: Segment) -> dict | None:
        return segment.rfm or None  # DBSCAN's noise has no RFM scores


class SegmentRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Segment
        fields = ["key", "name"]
        read_only_fields = fields


class MemberOutputSerializer(serializers.ModelSerializer):
    customer_id = serializers.IntegerField(read_only=True)
    external_id = serializers.CharField(source="customer.external_id", read_only=True)
    name = serializers.CharField(source="customer.name", read_only=True)
    email = serializers.EmailField(source="customer.email", read_only=True)

    class Meta:
        model = CustomerSegment
        fields = [
            "customer_id",
            "external_id",
            "name",
            "email",
            "recency_days",
            "frequency",
            "monetary",
            "r_score",
            "f_score",
            "m_score",
        ]
        read_only_fields = fields


class CustomerSegmentOutputSerializer(serializers.ModelSerializer):
    customer_id = serializers.IntegerField(read_only=True)
    model_version = serializers.IntegerField(source="model_version.version", read_only=True)
    segment = SegmentRefSerializer(read_only=True)

    class Meta:
        model = CustomerSegment
        fields = [
            "customer_id",
            "segment",
            "model_version",
            "recency_days",
            "frequency",
            "monetary",
            "r_score",
            "f_score",
            "m_score",
        ]
        read_only_fields = fields


class SegmentListView(ApiViewMixin, ListAPIView):
    """The active segmentation's segments, largest first (an empty list before any training)."""

    serializer_class = SegmentOutputSerializer
    permission_classes: ClassVar[list] = [StaffModelPermissions]
    queryset = Segment.objects.none()  # tells DjangoModelPermissions the model

    def get_queryset(self):
        version = selectors.active_segmentation_version()
        if version is None:
            return Segment.objects.none()
        return (
            Segment.objects.filter(model_version=version)
            .select_related("model_version")
            .order_by("is_noise", "-size", "key")
        )


class SegmentMemberListView(ApiViewMixin, ListAPIView):
    """A segment's customers, by customer id; ``key`` is the segment's stable key."""

    serializer_class = MemberOutputSerializer
    permission_classes: ClassVar[list] = [
        staff_permission("mining.view_customersegment", "store.view_customer")
    ]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request data
            return CustomerSegment.objects.none()
        version = selectors.active_segmentation_version()
        if version is None:
            raise Http404("No segmentation is active.")
        try:
            segment = selectors.segment_get(version=version, key=self.kwargs["key"])
        except Segment.DoesNotExist:
            raise Http404("The active segmentation has no such segment.") from None
        return selectors.segment_members(segment=segment)


class CustomerSegmentView(ApiViewMixin, APIView):
    """The segment a customer belongs to in the active segmentation."""

    permission_classes: ClassVar[list] = [IsAuthenticated]

    @extend_schema(responses=CustomerSegmentOutputSerializer)
    def get(self, request: Request, customer_id: int) -> Response:
        membership = selectors.customer_segment_for(user=request.user, customer_id=customer_id)
        if membership is None:
            raise Http404("No segment for this customer.")
        return Response(CustomerSegmentOutputSerializer(membership).data)


urlpatterns = [
    path("segments/", SegmentListView.as_view(), name="mining-segment-list"),
    path(
        "segments/<int:key>/members/",
        SegmentMemberListView.as_view(),
        name="mining-segment-members",
    ),
    path(
        "customers/<int:customer_id>/segment/",
        CustomerSegmentView.as_view(),
        name="mining-customer-segment",
    ),
]
