"""Reads for association rules: training baskets, the rules browser, frequently bought together.

Other apps (recommendations, the chatbot) read rules through :func:`frequently_bought_together`
and :func:`rule_list`, never through the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Case, Exists, F, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.db.models.aggregates import Max, Min

from mining.models import AssociationRule, RuleAntecedentItem
from shopops.registry.models import ModelVersion
from shopops.registry.services import active_model_version
from shopops.store.models import Order, OrderItem, Product

RULES_KIND = "rules"

#: Sort keys of the rules browser and API: field name -> label. Each sorts either way
#: ("lift" ascending, "-lift" descending).
RULE_SORTS: dict[str, str] = {
    "lift": "Lift",
    "confidence": "Confidence",
    "support": "Support",
    "leverage": "Leverage",
    "conviction": "Conviction",
    "rule_count": "Baskets with the rule",
    "antecedent_size": "Antecedent size",
}
DEFAULT_RULE_SORT = "-lift"


@dataclass(frozen=True)
class Baskets:
    """Training input: one set of product ids per sale order, in order id order."""

    baskets: list[set[int]]
    window_start: datetime | None
    window_end: datetime | None

    @property
    def n_items(self) -> int:
        return len(set().union(*self.baskets)) if self.baskets else 0


def _sale_order_items(since: datetime | None) -> QuerySet[OrderItem]:
    # Returns and cancellations are not purchases a customer made together; the importer already
    # keeps non-product lines (postage, fees) out of the order items.
    items = OrderItem.objects.filter(order__status__in=Order.SALE_STATUSES)
    if since is not None:
        items = items.filter(order__placed_at__gte=since)
    return items


def basket_list(*, since: datetime | None = None) -> Baskets:
    """The product-id set of every sale order (placed at or after ``since`` when given).

    One ``values_list`` query ordered by order id, grouped while streaming, plus one aggregate
    for the data window.
    """
    rows = (
        _sale_order_items(since)
        .order_by("order_id")
        .values_list("order_id", "product_id")
        .iterator(chunk_size=20_000)
    )
    baskets: list[set[int]] = []
    current = None
    for order_id, product_id in rows:
        if order_id != current:
            baskets.append(set())
            current = order_id
        baskets[-1].add(product_id)
    window = Order.objects.filter(status__in=Order.SALE_STATUSES, items__isnull=False)
    if since is not None:
        window = window.filter(placed_at__gte=since)
    bounds = window.aggregate(start=Min("placed_at"), end=Max("placed_at"))
    return Baskets(baskets=baskets, window_start=bounds["start"], window_end=bounds["end"])


# --- the rules browser ----------------------------------------------------------------------------


def rules_version_get(*, version: int | None = None) -> ModelVersion | None:
    """The rules version numbered ``version`` (any status), else the active one."""
    if version is None:
        return active_model_version(kind=RULES_KIND)
    return ModelVersion.objects.filter(kind=RULES_KIND, version=version).first()


def rules_versions_with_rules() -> QuerySet[ModelVersion]:
    """Versions whose rules are in the database (older ones are pruned), newest first."""
    return (
        ModelVersion.objects.filter(kind=RULES_KIND)
        .filter(Exists(AssociationRule.objects.filter(model_version=OuterRef("pk"))))
        .order_by("-version")
    )


def products_matching(*, item: str) -> QuerySet[Product]:
    """Products a merchant may mean by ``item``: an id, a SKU, or part of a name."""
    item = item.strip()
    match = Q(sku__iexact=item) | Q(name__icontains=item)
    if item.isdigit() and int(item) < 2**63:
        match |= Q(id=int(item))
    return Product.objects.filter(match)


def _sort_terms(sort: str) -> list:
    field = sort.lstrip("-")
    if field not in RULE_SORTS:
        raise ValueError(f"Unknown sort {sort!r}; choose one of {', '.join(RULE_SORTS)}.")
    descending = sort.startswith("-")
    if field == "conviction":
        # Null stands for an infinite conviction: the largest value either way.
        term = F(field).desc(nulls_first=True) if descending else F(field).asc(nulls_last=True)
    else:
        term = F(field).desc() if descending else F(field).asc()
    return [term, "rank"]


def rule_list(
    *,
    version: ModelVersion,
    item: str = "",
    min_lift: float | None = None,
    min_confidence: float | None = None,
    min_support: float | None = None,
    sort: str = DEFAULT_RULE_SORT,
) -> QuerySet[AssociationRule]:
    """Rules of ``version``, filtered and sorted; ``item`` matches either side of a rule.

    Raises ``ValueError`` for an unknown ``sort``.
    """
    rules = AssociationRule.objects.filter(model_version=version).select_related("consequent")
    if item.strip():
        matching = products_matching(item=item).values("id")
        # Uncorrelated subqueries, which PostgreSQL runs once and hashes; a correlated EXISTS
        # per rule re-ran the product search for every rule (minutes on 16,000 rules).
        in_antecedent = RuleAntecedentItem.objects.filter(
            model_version=version, product_id__in=matching
        ).values("rule_id")
        rules = rules.filter(Q(consequent_id__in=matching) | Q(id__in=in_antecedent))
    if min_lift is not None:
        rules = rules.filter(lift__gte=min_lift)
    if min_confidence is not None:
        rules = rules.filter(confidence__gte=min_confidence)
    if min_support is not None:
        rules = rules.filter(support__gte=min_support)
    return rules.order_by(*_sort_terms(sort))


def rule_antecedent_products(rules: list[AssociationRule]) -> dict[int, dict[str, Any]]:
    """``{product id: {"id", "sku", "name", "is_active"}}`` for every antecedent product of
    ``rules`` (one query), so a page links each antecedent item without a query per rule."""
    ids = {product_id for rule in rules for product_id in rule.antecedent_ids}
    return {
        row["id"]: row
        for row in Product.objects.filter(id__in=ids).values("id", "sku", "name", "is_active")
    }


def rule_chart_points(*, rules: QuerySet[AssociationRule], limit: int = 300) -> list[dict]:
    """Support, confidence and lift of the first ``limit`` of ``rules`` (a filtered list)."""
    return [
        {
            "support": row["support"],
            "confidence": row["confidence"],
            "lift": row["lift"],
            "label": f"{row['antecedent_label']} → {row['consequent__name']}",
        }
        for row in rules.values(
            "support", "confidence", "lift", "antecedent_label", "consequent__name"
        )[:limit]
    ]


# --- frequently bought together -------------------------------------------------------------------


def frequently_bought_together(*, product_id: int, limit: int = 5) -> list[dict[str, Any]]:
    """Products bought with ``product_id``, from the active rules model; best first.

    Rules whose antecedent is exactly ``{product}`` come first, then rules whose larger
    antecedent contains it; within each, by lift then confidence. Each consequent appears once
    (its best rule), inactive products never. Empty when no rules model is active.

    Returns plain dicts: ``product_id``, ``sku``, ``name``, ``price`` (a Decimal), ``currency``,
    ``confidence``, ``lift``, ``support``, ``antecedent_size``.
    """
    if limit < 1:
        return []
    version = active_model_version(kind=RULES_KIND)
    if version is None:
        return []
    holding = RuleAntecedentItem.objects.filter(model_version=version, product_id=product_id)
    rows = (
        AssociationRule.objects.filter(
            model_version=version,
            id__in=holding.values("rule_id"),
            consequent__is_active=True,
        )
        .annotate(
            is_larger=Case(
                When(antecedent_size=1, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("is_larger", "-lift", "-confidence", "rank")
        .values(
            "consequent_id",
            "consequent__sku",
            "consequent__name",
            "consequent__price",
            "consequent__currency",
            "confidence",
            "lift",
            "support",
            "antecedent_size",
        )
    )
    found: dict[int, dict[str, Any]] = {}
    # Streamed and stopped early: a popular product can sit in thousands of antecedents.
    for row in rows.iterator(chunk_size=max(50, limit * 10)):
        consequent = row["consequent_id"]
        if consequent in found or consequent == product_id:
            continue
        found[consequent] = {
            "product_id": consequent,
            "sku": row["consequent__sku"],
            "name": row["consequent__name"],
            "price": row["consequent__price"],
            "currency": row["consequent__currency"],
            "confidence": row["confidence"],
            "lift": row["lift"],
            "support": row["support"],
            "antecedent_size": row["antecedent_size"],
        }
        if len(found) >= limit:
            break
    return list(found.values())


def rules_for_consequent_count(*, product_id: int) -> int:
    """How many active rules recommend ``product_id``."""
    version = active_model_version(kind=RULES_KIND)
    if version is None:
        return 0
    return AssociationRule.objects.filter(model_version=version, consequent_id=product_id).count()


def rule_antecedent_skus(*, version: ModelVersion) -> dict[int, str]:
    """``{product id: sku}`` of every product in an antecedent of ``version`` (one query)."""
    in_antecedents = RuleAntecedentItem.objects.filter(model_version=version).values("product_id")
    return dict(Product.objects.filter(id__in=in_antecedents).values_list("id", "sku"))
