"""Customer segment pages (staff only), under /dashboard/mining/segments/.

The overview shows the active segmentation: how K was chosen (elbow and silhouette by K), the
customers on a 2-D projection, and each segment's profile. A segment's page lists its members
and exports them as CSV. Retraining posts to the registry's train view, which queues the
training and comes back here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.text import slugify

from mining.engine.segmentation import FEATURE_NAMES
from mining.models import Segment
from mining.selectors import segmentation as selectors
from shopops.dashboard.csv_export import csv_lines, spreadsheet_text
from shopops.dashboard.permissions import staff_required
from shopops.registry.selectors import model_versions_training
from shopops.registry.services import trainer_kinds

MEMBERS_PER_PAGE = 50
SCATTER_POINTS = 3000
# One colour per segment, by position (the largest first); noise is grey.
PALETTE = [
    "#2563eb",
    "#16a34a",
    "#d97706",
    "#dc2626",
    "#7c3aed",
    "#0891b2",
    "#db2777",
    "#65a30d",
    "#ea580c",
    "#4f46e5",
    "#0d9488",
    "#9333ea",
]
NOISE_COLOUR = "#64748b"
#: Column headings of the profile table (the full label is the heading's tooltip).
SHORT_LABELS = {
    "recency_days": "Days since order",
    "frequency": "Orders",
    "monetary": "Spend",
    "purchase_count": "Items",
    "browse_count": "Views",
    "average_basket": "Avg order",
    "return_rate": "Returns",
    "tenure_days": "Tenure (days)",
}

#: Member lists name customers: staff also need the permission to view memberships.
members_required = permission_required("mining.view_customersegment", raise_exception=True)


def _colours(segments: list[Segment]) -> dict[int, str]:
    colours, position = {}, 0
    for segment in segments:
        if segment.is_noise:
            colours[segment.key] = NOISE_COLOUR
        else:
            colours[segment.key] = PALETTE[position % len(PALETTE)]
            position += 1
    return colours


def feature_display(name: str, value: float | None) -> str:
    """A feature value as the tables show it: money to the penny, days whole, rates in %."""
    if value is None:
        return "—"
    if name == "return_rate":
        return f"{value * 100:.1f}%"
    if name in {"monetary", "average_basket"}:
        return f"{value:,.2f}"
    if name in {"recency_days", "tenure_days"}:
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def _profile_rows(segments: list[Segment], colours: dict[int, str]) -> list[dict[str, Any]]:
    return [
        {
            "segment": segment,
            "colour": colours[segment.key],
            "means": [
                feature_display(name, segment.feature_means.get(name)) for name in FEATURE_NAMES
            ],
        }
        for segment in segments
    ]


@staff_required
def overview(request: HttpRequest) -> HttpResponse:
    version = selectors.active_segmentation_version()
    training = model_versions_training(kind=selectors.KIND).first()
    context: dict[str, Any] = {
        "version": version,
        "training": training,
        "is_trainable": selectors.KIND in trainer_kinds(),
        "feature_labels": [
            (SHORT_LABELS[name], selectors.FEATURE_LABELS[name]) for name in FEATURE_NAMES
        ],
    }
    if version is not None:
        segments = selectors.segment_list(version=version)
        colours = _colours(segments)
        curve = version.metrics.get("k_curve") or {}
        context.update(
            segments=_profile_rows(segments, colours),
            metrics=version.metrics,
            chart_data={
                "curve": curve if curve.get("k") else None,
                "chosen_k": version.metrics.get("k"),
                "knee_k": version.metrics.get("knee_k"),
                "segments": [
                    {
                        "key": segment.key,
                        "name": segment.name,
                        "colour": colours[segment.key],
                        "x": segment.x,
                        "y": segment.y,
                        "is_noise": segment.is_noise,
                    }
                    for segment in segments
                ],
                "points": selectors.segment_scatter_points(version=version, limit=SCATTER_POINTS),
            },
        )
    return render(request, "mining/segments/overview.html", context)


def _active_segment(key: int) -> Segment:
    version = selectors.active_segmentation_version()
    if version is None:
        raise Http404("No segmentation is active.")
    try:
        return selectors.segment_get(version=version, key=key)
    except Segment.DoesNotExist:
        raise Http404("The active segmentation has no such segment.") from None


@staff_required
@members_required
def detail(request: HttpRequest, key: int) -> HttpResponse:
    segment = _active_segment(key)
    page = Paginator(selectors.segment_members(segment=segment), MEMBERS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    means = [
        (selectors.FEATURE_LABELS[name], feature_display(name, segment.feature_means.get(name)))
        for name in FEATURE_NAMES
    ]
    context = {"segment": segment, "page": page, "means": means}
    return render(request, "mining/segments/detail.html", context)


CSV_HEADER = [
    "customer_id",
    "external_id",
    "name",
    "email",
    "country",
    "segment_key",
    "segment",
    "recency_days",
    "orders",
    "spend",
    "r_score",
    "f_score",
    "m_score",
]


def _csv_rows(segment: Segment) -> Iterator[list]:
    yield CSV_HEADER
    members = selectors.segment_members(segment=segment)
    # iterator(): members stream in chunks instead of being held in memory all at once.
    for member in members.iterator(chunk_size=2000):
        customer = member.customer
        yield (
            [
                customer.id,
                customer.external_id or "",
                spreadsheet_text(customer.name),
                spreadsheet_text(customer.email),
                spreadsheet_text(customer.country),
                f"S{segment.key}",
                segment.name,
                f"{member.recency_days:.1f}",
                member.frequency,
                f"{member.monetary:.2f}",
                member.r_score,
                member.f_score,
                member.m_score,
            ]
        )


@staff_required
@members_required
def export(request: HttpRequest, key: int) -> StreamingHttpResponse:
    segment = _active_segment(key)
    response = StreamingHttpResponse(
        csv_lines(_csv_rows(segment)), content_type="text/csv; charset=utf-8"
    )
    filename = f"segment-s{segment.key}-{slugify(segment.name) or 'members'}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


urlpatterns = [
    path("", overview, name="segments"),
    path("<int:key>/", detail, name="segment-detail"),
    path("<int:key>/members.csv", export, name="segment-export"),
]
