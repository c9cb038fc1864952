"""Reads over the model registry for the merchant pages: versions by kind, progress, charts."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, QuerySet, Window
from django.db.models.functions import RowNumber

from shopops.registry.models import ModelVersion

#: How many key metrics a version shows in the list (the rest are on its detail page).
KEY_METRIC_COUNT = 3


@dataclass(frozen=True)
class VersionRow:
    """One version as the list shows it: the row plus its few formatted headline metrics."""

    version: ModelVersion
    key_metrics: list[tuple[str, str]]
    duration: str


@dataclass
class KindGroup:
    """Every shown version of one kind, newest first, with what the kind's header needs."""

    kind: str
    total: int
    rows: list[VersionRow] = field(default_factory=list)
    active: ModelVersion | None = None
    is_training: bool = False
    is_trainable: bool = False
    can_roll_back: bool = False
    chart: dict[str, Any] | None = None

    @property
    def hidden(self) -> int:
        return self.total - len(self.rows)


def _is_number(value: Any) -> bool:
    # bool is an int subclass, but "stratified: true" is not a metric to chart.
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def metric_format(value: Any) -> str:
    """A metric as a merchant reads it: 4 significant digits, integers as integers."""
    if isinstance(value, bool) or not _is_number(value):
        return str(value)
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.4g}"


def mapping_rows(mapping: dict[str, Any]) -> list[tuple[str, str]]:
    """A JSON mapping (params, library versions) as sorted name/value rows for a table."""
    return [
        (
            name,
            value
            if isinstance(value, str)
            else json.dumps(value, sort_keys=True, ensure_ascii=False),
        )
        for name, value in sorted(mapping.items())
    ]


def duration_format(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _gate_metric(version: ModelVersion) -> str | None:
    """The metric a version's gate compared, read from ``metric_gate``'s reason ("auc 0.8 ...")."""
    name = version.gate_reason.split(" ", 1)[0] if version.gate_reason else ""
    return name if name in version.metrics and _is_number(version.metrics[name]) else None


def _metric_order(versions: list[ModelVersion]) -> list[str]:
    """Numeric metric names of a kind, the gate's metric first, then alphabetical."""
    names = sorted({k for v in versions for k, value in v.metrics.items() if _is_number(value)})
    for version in versions:  # newest first: the gate that decides today
        gate = _gate_metric(version)
        if gate:
            names.remove(gate)
            return [gate, *names]
    return names


def _key_metrics(version: ModelVersion, order: list[str]) -> list[tuple[str, str]]:
    shown = [name for name in order if name in version.metrics][:KEY_METRIC_COUNT]
    return [(name, metric_format(version.metrics[name])) for name in shown]


def _metric_chart(kind: str, versions: list[ModelVersion], order: list[str]) -> dict | None:
    """Chart data for metrics over versions (oldest first); None unless two versions have some."""
    charted = [v for v in reversed(versions) if any(_is_number(x) for x in v.metrics.values())]
    if len(charted) < 2 or not order:
        return None
    return {
        "kind": kind,
        "labels": [f"v{v.version}" for v in charted],
        "statuses": [v.status for v in charted],
        "metrics": {
            name: [
                float(v.metrics[name]) if _is_number(v.metrics.get(name)) else None for v in charted
            ]
            for name in order
        },
        "default_metric": order[0],
    }


def model_kinds() -> list[str]:
    """Every kind that has at least one version, alphabetical."""
    return list(ModelVersion.objects.order_by("kind").values_list("kind", flat=True).distinct())


def _active_of(kind: str, shown: list[ModelVersion], *, has_more: bool) -> ModelVersion | None:
    active = next((v for v in shown if v.status == ModelVersion.Status.ACTIVE), None)
    if active is None and has_more:
        # Rolled back to a version older than the shown ones: one extra query for this kind.
        active = ModelVersion.objects.filter(kind=kind, status=ModelVersion.Status.ACTIVE).first()
    return active


def _can_roll_back(
    active: ModelVersion | None, shown: list[ModelVersion], *, has_more: bool
) -> bool:
    """Whether a ready version older than the active one exists (what rollback promotes)."""
    if active is None:
        return False
    if any(v.status == ModelVersion.Status.READY and v.version < active.version for v in shown):
        return True
    return has_more and (
        ModelVersion.objects.filter(
            kind=active.kind, status=ModelVersion.Status.READY, version__lt=active.version
        ).exists()
    )


def model_version_groups(
    *, kinds: list[str], limit_per_kind: int, trainable: frozenset[str] = frozenset()
) -> list[KindGroup]:
    """The newest ``limit_per_kind`` versions of each kind in ``kinds``, in two queries.

    A kind with no versions yet (a registered trainer never run) still gets a group so that the
    page can offer "Train now" for it.
    """
    totals = dict(
        ModelVersion.objects.filter(kind__in=kinds)
        .order_by()
        .values_list("kind")
        .annotate(n=Count("id"))
        .values_list("kind", "n")
    )
    # One query for the newest N of every kind: a window over kind, filtered on its row number.
    versions = (
        ModelVersion.objects.filter(kind__in=kinds)
        .annotate(
            row_number=Window(RowNumber(), partition_by=[F("kind")], order_by=F("version").desc())
        )
        .filter(row_number__lte=limit_per_kind)
        .order_by("kind", "-version")
    )
    by_kind: dict[str, list[ModelVersion]] = {kind: [] for kind in kinds}
    for version in versions:
        by_kind[version.kind].append(version)
    groups = []
    for kind in kinds:
        shown = by_kind[kind]
        order = _metric_order(shown)
        has_more = totals.get(kind, 0) > len(shown)
        active = _active_of(kind, shown, has_more=has_more)
        groups.append(
            KindGroup(
                kind=kind,
                total=totals.get(kind, 0),
                rows=[
                    VersionRow(
                        version=v,
                        key_metrics=_key_metrics(v, order),
                        duration=duration_format(v.duration_seconds),
                    )
                    for v in shown
                ],
                active=active,
                can_roll_back=_can_roll_back(active, shown, has_more=has_more),
                is_training=any(v.status == ModelVersion.Status.TRAINING for v in shown),
                is_trainable=kind in trainable,
                chart=_metric_chart(kind, shown, order),
            )
        )
    return groups


def model_version_get(*, version_id: int) -> ModelVersion:
    """Raises ``ModelVersion.DoesNotExist`` for an unknown id."""
    return ModelVersion.objects.get(id=version_id)


@dataclass(frozen=True)
class MetricComparison:
    name: str
    value: str
    active_value: str
    delta: str


def model_version_metric_comparison(
    *, version: ModelVersion, active: ModelVersion | None
) -> list[MetricComparison]:
    """Every metric of ``version`` beside ``active``'s value (pass None to compare with nothing)."""
    if active is not None and active.id == version.id:
        active = None
    active_metrics = active.metrics if active else {}
    rows = []
    for name in sorted(version.metrics):
        value, other = version.metrics[name], active_metrics.get(name)
        delta = ""
        if _is_number(value) and _is_number(other):
            difference = float(value) - float(other)
            delta = "0" if difference == 0 else f"{difference:+.4g}"
        rows.append(
            MetricComparison(
                name=name,
                value=metric_format(value),
                active_value="" if other is None else metric_format(other),
                delta=delta,
            )
        )
    return rows


def model_versions_training(*, kind: str | None = None) -> QuerySet[ModelVersion]:
    versions = ModelVersion.objects.filter(status=ModelVersion.Status.TRAINING)
    if kind:
        versions = versions.filter(kind=kind)
    return versions.order_by("kind", "version")


def model_training_progress(*, kind: str | None = None) -> list[dict[str, Any]]:
    """What the progress poller needs about every running training, in one small query."""
    return [
        {
            "id": row["id"],
            "kind": row["kind"],
            "version": row["version"],
            "status": row["status"],
            "progress": round(row["progress"], 4),
            "message": row["progress_message"],
        }
        for row in model_versions_training(kind=kind).values(
            "id", "kind", "version", "status", "progress", "progress_message"
        )
    ]
