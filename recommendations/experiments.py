"""A/B tests of recommendations: variants, assignment, impression and click logging, results.

Each variant serves its own list: a recommender the trainer fits (:data:`RECOMMENDER_NAMES`),
or a blend of them with weights. Every training precomputes the top-N of each customer for
every recommender that a running or draft experiment names, beside the served hybrid's
(:class:`~recommendations.models.CustomerRecommendation` rows keyed by
:func:`variant_recommender_key`), so serving a variant is the same lookup as serving the
hybrid. An experiment starts only when the active model has every variant's lists.

A customer's variant is a pure function of the experiment's name and the customer's id
(sha256 of ``"<name>:<customer id>"`` modulo the number of variants), so it never changes
between requests and needs no stored assignment. Impressions and clicks are store
:class:`~shopops.store.models.Event` rows (the store models stay as they are):

- an impression is one served list: a ``view`` event, no product, with metadata
  ``{"experiment", "variant", "kind": "impression", "product_ids": [...]}``;
- a click is a ``click`` event on the product, metadata ``{"experiment", "variant",
  "kind": "recommendation_click"}``.

The click-through rate of a variant is clicks per impression, with a 95% Wilson interval.

The active experiment is cached (serving reads it on every request); starting or stopping
one refreshes the cache when its transaction commits.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any, Protocol

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from recommendations.models import SERVED_RECOMMENDER, CustomerRecommendation, Experiment
from shopops.registry.services import active_model_version
from shopops.store.models import Event

IMPRESSION = "impression"
CLICK = "recommendation_click"
Z_95 = 1.959963984540054
KIND = "recommender"
#: What a variant may serve: the names of the recommenders every training fits.
RECOMMENDER_NAMES = (SERVED_RECOMMENDER, "popularity", "item-knn", "als", "ease", "content")
#: What a blend may mix (the hybrid is itself a blend).
BLEND_MEMBERS = RECOMMENDER_NAMES[1:]
MAX_VARIANTS = 4
SLUG = re.compile(r"[-a-zA-Z0-9_]{1,64}")
ACTIVE_CACHE_KEY = "recommendations:active-experiment"
# Backstop only: starting and stopping refresh the cached experiment on commit.
ACTIVE_CACHE_SECONDS = 300
NO_EXPERIMENT: dict = {}


class ExperimentError(ValueError):
    """A click or an experiment that does not fit the rules (a 400 in the API)."""


# --- variants ------------------------------------------------------------------------------------


def variant_recommender_key(variant: dict[str, Any]) -> str:
    """The key of the list a (validated) variant serves: ``"ease"``, or a blend's
    ``"blend:ease=0.5,item-knn=0.5"`` (members sorted, weights as stored)."""
    blend = variant.get("blend")
    if blend:
        return "blend:" + ",".join(f"{name}={blend[name]:g}" for name in sorted(blend))
    return str(variant.get("recommender", SERVED_RECOMMENDER))


def _blend_clean(name: str, blend: Any) -> dict[str, float]:
    if not isinstance(blend, dict) or not blend:
        raise ExperimentError(f"Variant {name!r}: a blend maps recommenders to weights.")
    unknown = sorted(set(blend) - set(BLEND_MEMBERS))
    if unknown:
        raise ExperimentError(
            f"Variant {name!r}: cannot blend {', '.join(map(str, unknown))}; "
            f"choose from {', '.join(BLEND_MEMBERS)}."
        )
    try:
        weights = {str(member): float(weight) for member, weight in blend.items()}
    except (TypeError, ValueError):
        raise ExperimentError(f"Variant {name!r}: blend weights must be numbers.") from None
    if any(not 0 <= weight < float("inf") for weight in weights.values()):
        raise ExperimentError(f"Variant {name!r}: blend weights must be 0 or more.")
    total = sum(weights.values())
    if total <= 0:
        raise ExperimentError(f"Variant {name!r}: at least one blend weight must be above 0.")
    # Normalised and rounded, so that equal blends written differently share one list.
    return {
        member: round(weight / total, 3)
        for member, weight in sorted(weights.items())
        if round(weight / total, 3) > 0
    }


def variants_clean(variants: Any) -> list[dict[str, Any]]:
    """Validated variants: each ``{"name", "recommender"}`` or ``{"name", "blend"}``.

    Raises :class:`ExperimentError` with a readable message for anything else.
    """
    if not isinstance(variants, list) or not 2 <= len(variants) <= MAX_VARIANTS:
        raise ExperimentError(f"An experiment needs 2 to {MAX_VARIANTS} variants.")
    cleaned = []
    for variant in variants:
        if not isinstance(variant, dict):
            raise ExperimentError("Each variant is an object with a name.")
        name = str(variant.get("name", "")).strip()
        if not name or len(name) > 32:
            raise ExperimentError("Each variant needs a name of 1 to 32 characters.")
        if variant.get("blend"):
            cleaned.append({"name": name, "blend": _blend_clean(name, variant["blend"])})
            continue
        recommender = str(variant.get("recommender", "")).strip()
        if recommender not in RECOMMENDER_NAMES:
            raise ExperimentError(
                f"Variant {name!r} must serve one of {', '.join(RECOMMENDER_NAMES)} "
                "or a blend of them."
            )
        cleaned.append({"name": name, "recommender": recommender})
    names = [variant["name"] for variant in cleaned]
    if len(set(names)) != len(names):
        raise ExperimentError("An experiment needs variants with distinct names.")
    return cleaned


def experiment_recommender_keys() -> set[str]:
    """The lists a training must precompute besides the hybrid's: every variant of the
    running experiment and of drafts (so a draft can start once they exist)."""
    keys = set()
    for variants in Experiment.objects.filter(
        Q(is_active=True) | Q(started_at__isnull=True)
    ).values_list("variants", flat=True):
        keys.update(variant_recommender_key(variant) for variant in variants)
    keys.discard(SERVED_RECOMMENDER)
    return keys


# --- selectors -----------------------------------------------------------------------------------


class _Named(Protocol):
    name: str
    variants: list


@dataclass(frozen=True)
class ActiveExperiment:
    """What serving needs of the running experiment (cached; no database row)."""

    id: int
    name: str
    variants: list[dict[str, Any]]

    @property
    def variant_names(self) -> list[str]:
        return [str(variant["name"]) for variant in self.variants]

    def recommender_of(self, variant_name: str) -> str:
        for variant in self.variants:
            if variant["name"] == variant_name:
                return variant_recommender_key(variant)
        raise ExperimentError(f"Experiment {self.name!r} has no variant {variant_name!r}.")


def _active_query() -> dict[str, Any]:
    row = Experiment.objects.filter(is_active=True).values("id", "name", "variants").first()
    return row or NO_EXPERIMENT


def experiment_active_get(*, cached: Any = None) -> ActiveExperiment | None:
    """The running experiment, from the cache (a warm call runs no query).

    ``cached`` is the value of :data:`ACTIVE_CACHE_KEY` when the caller already read it (in
    one ``get_many`` with other keys); None reads it here.
    """
    if cached is None:
        cached = cache.get(ACTIVE_CACHE_KEY)
    if cached is None:
        cached = _active_query()
        # add, not set: a read that raced a start/stop must not overwrite its refresh.
        cache.add(ACTIVE_CACHE_KEY, cached, ACTIVE_CACHE_SECONDS)
    return ActiveExperiment(**cached) if cached else None


def experiment_active_cache_refresh() -> None:
    """Store the running experiment as the database has it now (on commit of a change)."""
    cache.set(ACTIVE_CACHE_KEY, _active_query(), ACTIVE_CACHE_SECONDS)


def experiment_variant_for(*, experiment: _Named, customer_id: int) -> str:
    """The customer's variant: deterministic, and uniform over customers."""
    names = [str(variant["name"]) for variant in experiment.variants]
    digest = hashlib.sha256(f"{experiment.name}:{customer_id}".encode()).digest()
    return names[int.from_bytes(digest[:8], "big") % len(names)]


def experiment_missing_lists(*, variants: list[dict[str, Any]]) -> list[str]:
    """The variants' list keys the active recommender model has no rows for (all of them
    when no model is active)."""
    keys = sorted({variant_recommender_key(variant) for variant in variants})
    version = active_model_version(kind=KIND)
    if version is None:
        return keys
    present = set(
        CustomerRecommendation.objects.filter(model_version=version, recommender__in=keys)
        .values_list("recommender", flat=True)
        .distinct()
    )
    return [key for key in keys if key not in present]


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


def experiment_create(*, name: str, variants: list[dict[str, Any]]) -> Experiment:
    """A draft experiment: the next training precomputes its variants' lists."""
    if not SLUG.fullmatch(name or ""):
        raise ExperimentError(
            "Name the experiment with 1 to 64 letters, digits, hyphens or underscores."
        )
    cleaned = variants_clean(variants)
    if Experiment.objects.filter(name=name).exists():
        raise ExperimentError(f"An experiment called {name!r} already exists.")
    return Experiment.objects.create(name=name, variants=cleaned)


def experiment_start(*, experiment_id: int) -> Experiment:
    """Run a draft or stopped experiment, stopping whichever one was running.

    Raises :class:`ExperimentError` when the active model has no lists for a variant (train
    first: a training precomputes every draft's lists) or the experiment does not exist.
    """
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().filter(id=experiment_id).first()
        if experiment is None:
            raise ExperimentError("No such experiment.")
        if experiment.is_active:
            return experiment
        missing = experiment_missing_lists(variants=experiment.variants)
        if missing:
            raise ExperimentError(
                f"The served model has no precomputed lists for {', '.join(missing)}. "
                "Retrain the recommender (a training precomputes every draft's lists), "
                "then start the experiment."
            )
        now = timezone.now()
        Experiment.objects.filter(is_active=True).update(is_active=False, stopped_at=now)
        experiment.is_active = True
        experiment.started_at = experiment.started_at or now
        experiment.stopped_at = None
        experiment.save(update_fields=["is_active", "started_at", "stopped_at"])
        transaction.on_commit(experiment_active_cache_refresh)
    return experiment


def experiment_stop(*, experiment_id: int) -> Experiment:
    """Stop a running experiment (its impressions and clicks stay for the results)."""
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().filter(id=experiment_id).first()
        if experiment is None:
            raise ExperimentError("No such experiment.")
        if experiment.is_active:
            experiment.is_active = False
            experiment.stopped_at = timezone.now()
            experiment.save(update_fields=["is_active", "stopped_at"])
            transaction.on_commit(experiment_active_cache_refresh)
    return experiment


def experiment_impression_record(
    *, experiment: _Named, customer_id: int, product_ids: list[int]
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
    experiment = experiment_active_get()
    if experiment is None or experiment.name != experiment_name:
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
