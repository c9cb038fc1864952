import logging
from datetime import date, timedelta
from pathlib import PurePath

from django.apps import apps
from django.core.paginator import Paginator
from django.db.models import Count, DecimalField, F, Max, Min, Q, Sum
from django.db.models.functions import TruncMonth
from django.shortcuts import get_object_or_404, render
from django.utils.module_loading import import_string
from django.utils.safestring import mark_safe

from shopops.dashboard.forms import PeriodForm
from shopops.dashboard.permissions import staff_required
from shopops.registry.selectors import duration_format
from shopops.store import selectors
from shopops.store.models import ImportRun, Order, OrderItem, Product

logger = logging.getLogger(__name__)


@staff_required
def home(request):
    first, last = selectors.order_date_range()
    # Default period: the 90 days up to the newest order, so an imported history shows at once.
    default_end = last or date.today()  # noqa: DTZ011 - a calendar date in the shop's zone
    form = PeriodForm(
        request.GET or None,
        initial={"start": default_end - timedelta(days=89), "end": default_end},
    )
    if form.is_bound and form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    else:
        start, end = default_end - timedelta(days=89), default_end
    context = {
        "form": form,
        "kpis": selectors.shop_kpis(start=start, end=end),
        "series": selectors.revenue_series(start=start, end=end),
        "top_products": selectors.top_products(start=start, end=end),
        "first_order": first,
        "last_order": last,
    }
    return render(request, "dashboard/home.html", context)


IMPORT_STATUS_BADGES = {
    ImportRun.Status.SUCCEEDED.value: "active",
    ImportRun.Status.RUNNING.value: "training",
    ImportRun.Status.FAILED.value: "failed",
}


def _folder(file_name: str) -> str:
    parent = str(PurePath(file_name).parent)
    return "" if parent == "." else parent


@staff_required
def imports(request):
    # A plain newest-first read of one table; it moves to store.selectors when that grows one.
    runs = ImportRun.objects.order_by("-started_at", "-id")
    page = Paginator(runs, 50).get_page(request.GET.get("page"))
    rows = [
        {
            "run": run,
            "file": PurePath(run.file_name).name or run.file_name,
            "folder": _folder(run.file_name),
            "badge": IMPORT_STATUS_BADGES.get(run.status, ""),
            "duration": duration_format(
                (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
            ),
            "rejected": sorted(
                run.rejected_by_reason.items(), key=lambda item: (-item[1], item[0])
            ),
        }
        for run in page.object_list
    ]
    return render(request, "dashboard/imports.html", {"page": page, "rows": rows})


# --- products -----------------------------------------------------------------------------------
#
# Plain reads of the store's tables for the staff product pages; they move to store.selectors if
# another page needs them.

PRODUCTS_PAGE_SIZE = 50
PRODUCT_SORTS = ("name", "units")
PRODUCT_STATUSES = {"active": True, "inactive": False}
RECENT_ORDER_ITEMS = 10


def _units_sold(*, product_ids: list[int] | None = None) -> dict[int, int]:
    """Units sold per product (sale orders only), from one GROUP BY over the order items.

    Grouping the items alone is what keeps this fast: annotating the product rows instead
    groups every product column over the items-orders join (seconds on Online Retail).
    """
    items = OrderItem.objects.filter(order__status__in=Order.SALE_STATUSES)
    if product_ids is not None:
        items = items.filter(product_id__in=product_ids)
    return dict(
        items.order_by()
        .values("product_id")
        .annotate(units=Sum("quantity"))
        .values_list("product_id", "units")
    )


def _positive_int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and 0 < int(value) < 2**63 else None


@staff_required
def products(request):
    query = request.GET.get("q", "").strip()[:255]
    category_id = _positive_int(request.GET.get("category"))
    status = request.GET.get("status", "")
    sort = request.GET.get("sort", "name")
    paths = selectors.category_paths()
    rows = Product.objects.select_related("category").prefetch_related("images")
    if query:
        match = Q(sku__icontains=query) | Q(name__icontains=query)
        if _positive_int(query):
            match |= Q(id=int(query))
        rows = rows.filter(match)
    if category_id in paths:
        rows = rows.filter(
            category_id__in=selectors.category_descendant_ids(category_id=category_id)
        )
    else:
        category_id = None
    if status in PRODUCT_STATUSES:
        rows = rows.filter(is_active=PRODUCT_STATUSES[status])
    else:
        status = ""
    if sort not in PRODUCT_SORTS:
        sort = "name"
    if sort == "units":
        # Ordered in Python from the per-product totals: one grouped query plus the ids and
        # names of the matching products, then one query for the page's products.
        units = _units_sold()
        ordered = sorted(
            rows.values_list("id", "name"),
            key=lambda row: (-units.get(row[0], 0), row[1], row[0]),
        )
        page = Paginator([pk for pk, _name in ordered], PRODUCTS_PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        by_id = rows.in_bulk(list(page.object_list))
        shown = [by_id[pk] for pk in page.object_list]
    else:
        page = Paginator(rows.order_by("name", "id"), PRODUCTS_PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        shown = list(page.object_list)
        units = _units_sold(product_ids=[product.pk for product in shown])
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "page": page,
        "products": [
            {
                "product": product,
                "category": paths.get(product.category_id, ""),
                "units_sold": units.get(product.pk, 0),
            }
            for product in shown
        ],
        "query": query,
        "category_id": category_id,
        "categories": sorted(paths.items(), key=lambda item: item[1].lower()),
        "status": status,
        "sort": sort,
        "page_query": params.urlencode(),
    }
    return render(request, "dashboard/products.html", context)


def _product_sales(product: Product) -> dict:
    lines = OrderItem.objects.filter(product=product)
    sale = Q(order__status__in=Order.SALE_STATUSES)
    returned = Q(order__status=Order.Status.RETURNED)
    totals = lines.aggregate(
        units=Sum("quantity", filter=sale),
        orders=Count("order", filter=sale, distinct=True),
        revenue=Sum(
            F("quantity") * F("unit_price"),
            filter=sale,
            output_field=DecimalField(max_digits=18, decimal_places=3),
        ),
        returned_units=Sum("quantity", filter=returned),
        first=Min("order__placed_at", filter=sale),
        last=Max("order__placed_at", filter=sale),
    )
    monthly = (
        lines.filter(sale)
        .annotate(month=TruncMonth("order__placed_at"))
        .values("month")
        .annotate(units=Sum("quantity"), orders=Count("order", distinct=True))
        .order_by("month")
    )
    series = [
        {"period": row["month"].strftime("%Y-%m"), "units": row["units"], "orders": row["orders"]}
        for row in monthly
    ]
    return {**totals, "series": series}


def _product_panels(request, product: Product) -> list[dict]:
    """Blocks other apps contribute: every AppConfig's ``dashboard_product_panels`` lists
    "module.function" paths called with (request, product) that return (title, html). The
    dashboard imports them by path, so it never depends on those apps by name."""
    panels = []
    for config in apps.get_app_configs():
        for dotted in getattr(config, "dashboard_product_panels", []):
            try:
                title, html = import_string(dotted)(request, product)
            except Exception:
                # One broken panel must not take the product page down with it.
                logger.exception("product panel %s failed for product %s", dotted, product.pk)
                panels.append({"title": config.verbose_name, "html": "", "failed": True})
                continue
            panels.append({"title": title, "html": mark_safe(html), "failed": False})  # noqa: S308 - rendered by the app's own template
    return panels


@staff_required
def product_detail(request, product_id: int):
    product = get_object_or_404(Product.objects.select_related("category"), pk=product_id)
    recent = (
        OrderItem.objects.filter(product=product)
        .select_related("order", "order__customer")
        .order_by("-order__placed_at", "-order_id")[:RECENT_ORDER_ITEMS]
    )
    context = {
        "product": product,
        "category": selectors.category_paths().get(product.category_id, ""),
        "images": list(product.images.all()),
        "sales": _product_sales(product),
        "recent": list(recent),
        "panels": _product_panels(request, product),
    }
    return render(request, "dashboard/product_detail.html", context)
