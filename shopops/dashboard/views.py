from datetime import date, timedelta

from django.shortcuts import render

from shopops.dashboard.forms import PeriodForm
from shopops.dashboard.permissions import staff_required
from shopops.store import selectors


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
