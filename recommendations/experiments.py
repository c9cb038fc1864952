"""A/B tests of recommendations: assignment, impression and click logging, and results.

A customer's variant is a pure function of the experiment's name and the customer's id
(sha256 of ``"<name>:<customer id>"`` modulo the number of variants), so it never changes
between requests and needs no stored assignment. Impressions and clicks are store
:class:`~shopops.store.models.Event` rows (the store models stay as they are):

- an impression is one served list: a ``view`` event, no product, with metadata
  ``{"experiment", "variant", "kind": "impression", "product_ids": [...]}``;
- a click is a ``click`` event on the product, metadata ``{"experiment", "variant",
  "kind": "recommendation_click"}``.

The click-through rate of a variant is clicks per impression, with a 95% Wilson interval.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from recommendations.models import Experiment
from shopops.store.models import Event

IMPRESSION = "impression"
CLICK = "recommendation_click"
Z_95 = 1.959963984540054


class ExperimentError(ValueError):
    """A click or an experiment that does not fit the rules (a 400 in the API)."""


# --- selectors -----------------------------------------------------------------------------------


def experiment_active_get() -> Experiment | None:
    return Experiment.objects.filter(is_active=True).first()


def experiment_variant_for(*, experiment: Experiment, customer_id: int) -> str:
    """The customer's variant: deterministic, and uniform over customers."""
    names = experiment.variant_names
    digest = hashlib.sha256(f"{experiment.name}:{customer_id}".encode()).digest()
    return names[int.from_bytes(digest[:8], "big") % len(names)]


def wilson_interval(*, successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion; ``(0, 0)`` when there are no trials."""
    if trials == 0:
        return 0.0, 0.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class VariantResult:
    name: str
    impressions: int
    clicks: int
    ctr: float
    low: float
    high: float


@dataclass(frozen=True)
class ExperimentResults:
    experiment: Experiment
    variants: list[VariantResult]
    # CTR of the second variant minus the first's (None with fewer than two variants).
    difference: float | None


def experiment_results_get(*, experiment: Experiment) -> ExperimentResults:
    """Impressions, clicks, CTR and its 95% Wilson interval per variant (two queries)."""
    counts: dict[tuple[str, str], int] = {}
    for kind, event_type in ((IMPRESSION, Event.Type.VIEW), (CLICK, Event.Type.CLICK)):
        rows = (
            Event.objects.filter(
                event_type=event_type,
                metadata__experiment=experiment.name,
                metadata__kind=kind,
            )
            .values("metadata__variant")
            .annotate(n=Count("id"))
            .values_list("metadata__variant", "n")
        )
        for variant, n in rows:
            counts[(kind, str(variant))] = n
    variants = []
    for name in experiment.variant_names:
        impressions = counts.get((IMPRESSION, name), 0)
        clicks = counts.get((CLICK, name), 0)
        low, high = wilson_interval(successes=clicks, trials=impressions)
        ctr = clicks / impressions if impressions else 0.0
        variants.append(VariantResult(name, impressions, clicks, ctr, low, high))
    difference = variants[1].ctr - variants[0].ctr if len(variants) >= 2 else None
    return ExperimentResults(experiment, variants, difference)


# --- services ------------------------------------------------------------------------------------


def experiment_start(*, name: str, variants: list[dict]) -> Experiment:
    """Create and activate an experiment, stopping whichever one was active."""
    names = [str(variant.get("name", "")) for variant in variants]
    if len(names) < 2 or "" in names or len(set(names)) != len(names):
        raise ExperimentError("An experiment needs at least two variants with distinct names.")
    with transaction.atomic():
        Experiment.objects.filter(is_active=True).update(is_active=False)
        return Experiment.objects.create(
            name=name, variants=variants, is_active=True, started_at=timezone.now()
        )


def experiment_impression_record(
    *, experiment: Experiment, customer_id: int, product_ids: list[int]
) -> str:
    """Log that the customer was shown ``product_ids``; returns their variant."""
    variant = experiment_variant_for(experiment=experiment, customer_id=customer_id)
    Event.objects.create(
        customer_id=customer_id,
        event_type=Event.Type.VIEW,
        occurred_at=timezone.now(),
        metadata={
            "experiment": experiment.name,
            "variant": variant,
            "kind": IMPRESSION,
            "product_ids": list(product_ids),
        },
    )
    return variant


def experiment_click_record(
    *, experiment_name: str, variant: str, customer_id: int, product_id: int
) -> Event:
    """Log a click on a recommended product; the variant must be the customer's own."""
    experiment = Experiment.objects.filter(name=experiment_name, is_active=True).first()
    if experiment is None:
        raise ExperimentError(f"No active experiment is called {experiment_name!r}.")
    if variant != experiment_variant_for(experiment=experiment, customer_id=customer_id):
        raise ExperimentError(f"Variant {variant!r} is not this customer's variant.")
    return Event.objects.create(
        customer_id=customer_id,
        product_id=product_id,
        event_type=Event.Type.CLICK,
        occurred_at=timezone.now(),
        metadata={"experiment": experiment.name, "variant": variant, "kind": CLICK},
    )
