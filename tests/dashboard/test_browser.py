"""The merchant pages and the storefront in a real browser: charts drawn, numbers shown.

Playwright's sync API runs an event loop in this thread while it is open, and Django refuses ORM
calls from a thread with a running loop; so every row is written before the browser starts and
read back after it closes.
"""

import threading

from django.db import connection

from shopops.registry import services
from shopops.store.models import Event
from tests.browser import BROWSER_MARKS, chromium_page, staff_log_in

pytestmark = BROWSER_MARKS


def _in_thread(work) -> None:
    """Write to the database from another thread: this one has Playwright's loop running."""

    def run():
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def _progress(version_id: int, fraction: float, message: str) -> None:
    services.model_version_progress(version_id=version_id, progress=fraction, message=message)


def _finish(version_id: int) -> None:
    services.model_version_finish(
        version_id=version_id, result=services.TrainingResult(metrics={"silhouette": 0.5})
    )


def test_staff_see_the_dashboard_models_and_storefront(
    live_server, staff_user, shop_orders, model_versions
):
    # given: every row exists before the browser starts (see the module docstring)
    mug_id = shop_orders[0].items.get().product_id
    with chromium_page() as (page, errors):
        # the overview: KPI cards and a drawn revenue chart
        staff_log_in(page, live_server.url, "/dashboard/")
        page.wait_for_function(
            "() => window.Chart && Chart.getChart(document.getElementById('revenue-chart'))"
        )
        kpis = {
            name: page.inner_text(f"[data-kpi={name}]")
            for name in ("revenue", "orders", "aov", "active_customers", "returns")
        }
        datasets = page.evaluate(
            "() => Chart.getChart(document.getElementById('revenue-chart')).data.datasets"
            ".map(d => [d.label, d.data])"
        )

        # the trained models: a live progress bar and a metric chart
        page.click("nav.sidebar >> text=Trained models")
        page.wait_for_url(f"{live_server.url}/dashboard/models/")
        bar = page.locator(f"[data-training-id='{model_versions['v3'].id}']")
        bar_width = bar.locator(".progress > div").evaluate("el => el.style.width")
        bar_text = bar.locator("[data-progress-text]").inner_text()
        page.wait_for_function(
            "() => Chart.getChart(document.querySelector('canvas[data-chart-kind=segmentation]'))"
        )
        page.select_option("select[data-chart-kind=segmentation]", "n_clusters")
        charted = page.evaluate(
            "() => Chart.getChart(document.querySelector('canvas[data-chart-kind=segmentation]'))"
            ".data.datasets[0].data"
        )
        # live progress: the poller moves the bar, then reloads the page once training ends
        page.evaluate("() => { window.sameDocument = true; }")
        _in_thread(lambda: _progress(model_versions["v3"].id, 0.7, "scoring"))
        page.wait_for_function(
            "() => document.querySelector('[data-progress-text]').textContent === '70% · scoring'"
        )
        polled_width = bar.locator(".progress > div").evaluate("el => el.style.width")
        not_reloaded = page.evaluate("() => window.sameDocument === true")
        _in_thread(lambda: _finish(model_versions["v3"].id))
        page.wait_for_function("() => window.sameDocument === undefined")
        page.wait_for_load_state()
        finished_row = page.inner_text(f"tr[data-version-id='{model_versions['v3'].id}']")

        # the storefront: a product and its page
        page.goto(f"{live_server.url}/")
        listed = page.locator(".product-card .name").all_inner_texts()
        page.click("text=Blue mug")
        page.wait_for_url(f"{live_server.url}/products/{mug_id}/")
        heading = page.inner_text("h1")

    # then
    assert kpis == {
        "revenue": "275.75",
        "orders": "4",
        "aov": "68.94",
        "active_customers": "2",
        "returns": "1",
    }
    assert datasets[0] == ["Revenue", [120.0, 75.25, 80.5]]
    assert bar_width == "40%"
    assert bar_text == "40% · fitting k-means"
    assert charted == [4, 5]
    assert (polled_width, not_reloaded) == ("70%", True)
    assert "Ready" in finished_row
    assert listed == ["Blue mug", "Desk lamp"]
    assert heading == "Blue mug"
    assert errors == []


def test_a_product_view_in_the_browser_is_recorded(live_server, shop_orders):
    mug_id = shop_orders[0].items.get().product_id

    with chromium_page() as (page, errors):
        page.goto(f"{live_server.url}/products/{mug_id}/")
        heading = page.inner_text("h1")
        session_key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")

    assert heading == "Blue mug"
    assert errors == []
    event = Event.objects.get()
    assert (event.event_type, event.product_id, event.session_key) == ("view", mug_id, session_key)
