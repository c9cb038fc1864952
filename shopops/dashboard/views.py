from datetime import date, timedelta
from pathlib import PurePath

from django.core.paginator import Paginator
from django.shortcuts import render

from shopops.dashboard.forms import PeriodForm
from shopops.dashboard.permissions import staff_required
from shopops.registry.selectors import duration_format
from shopops.store import selectors
from shopops.store.models import ImportRun


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
