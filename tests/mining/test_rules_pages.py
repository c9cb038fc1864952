"""The rules browser, CSV export, Retrain, the product page's panel, the API and the admin."""

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from mining.engine.association import Rule
from mining.services import rules as services
from mining.views import rules as views
from shopops.registry.models import ModelVersion
from shopops.registry.services import model_version_start
from tests.browser import chromium_page, requires_chromium, staff_log_in
from tests.factories import OrderFactory, OrderItemFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

METRICS = {
    "n_baskets": 100,
    "n_items": 4,
    "n_frequent_itemsets": 7,
    "n_rules_mined": 3,
    "n_rules": 3,
    "rules_capped": False,
    "top_lift_mean": 3.1666666666666665,
    "top_confidence_mean": 0.65,
    "seconds": 0.25,
}
PARAMS = {"min_support": 0.05, "min_confidence": 0.3, "max_length": 3, "max_rules": 50_000}


def _rule(antecedent, consequent, *, support, confidence, lift, conviction) -> Rule:
    return Rule(
        antecedent=tuple(sorted(antecedent)),
        consequent=consequent,
        support=support,
        confidence=confidence,
        lift=lift,
        leverage=0.0125,
        conviction=conviction,
        antecedent_count=20,
        consequent_count=16,
        rule_count=int(support * 100),
        n_baskets=100,
    )


@pytest.fixture
def shop(db):
    """Mug, Teapot, Tea caddy and an inactive Lamp; rules v1 (active) holds three rules."""
    products = {
        "mug": ProductFactory(sku="MUG", name="Blue mug", price=Decimal("10.00")),
        "teapot": ProductFactory(sku="TEAPOT", name="Teapot", price=Decimal("24.50")),
        "caddy": ProductFactory(sku="CADDY", name="Tea caddy", price=Decimal("8.00")),
        "lamp": ProductFactory(sku="LAMP", name="Lamp", is_active=False),
    }
    ids = {key: product.id for key, product in products.items()}
    version = ModelVersion.objects.create(
        kind="rules",
        version=1,
        status=ModelVersion.Status.ACTIVE,
        params=PARAMS,
        metrics=METRICS,
        data_window_start=datetime(2024, 1, 1, tzinfo=UTC),
        data_window_end=datetime(2024, 6, 30, tzinfo=UTC),
        started_at=datetime(2024, 7, 1, 3, 0, tzinfo=UTC),
        finished_at=datetime(2024, 7, 1, 3, 0, 1, tzinfo=UTC),
    )
    services.rules_store(
        version=version,
        rules=[
            _rule(
                [ids["mug"]], ids["teapot"], support=0.15, confidence=0.75, lift=4.5, conviction=3.2
            ),
            _rule(
                [ids["mug"], ids["teapot"]],
                ids["caddy"],
                support=0.06,
                confidence=1.0,
                lift=3.0,
                conviction=float("inf"),
            ),
            _rule(
                [ids["teapot"]], ids["lamp"], support=0.1, confidence=0.4, lift=2.0, conviction=1.25
            ),
        ],
    )
    return {"products": products, "ids": ids, "version": version}


@pytest.fixture
def model_manager(db):
    user = UserFactory(username="ml-lead", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="registry", codename="change_modelversion")
    )
    return user


@pytest.fixture
def intern(db):
    return UserFactory(username="intern", is_staff=True)


def _rows(response) -> list[str]:
    return [
        " + ".join(p["name"] for p in row["antecedent"]) + " > " + row["rule"].consequent.name
        for row in response.context["rows"]
    ]


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- the browser ----------------------------------------------------------------------------------


def test_staff_see_the_active_rules_best_lift_first(client, staff_user, shop):
    client.force_login(staff_user)

    response = client.get(reverse("mining:rules"))

    html = response.content.decode()
    ids = shop["ids"]
    assert response.status_code == 200
    assert _rows(response) == [
        "Blue mug > Teapot",
        "Blue mug + Teapot > Tea caddy",
        "Teapot > Lamp",
    ]
    assert '<span class="badge active">v1 · Active</span>' in html
    assert 'data-metric="n_rules">3</div>' in html
    assert 'data-metric="n_baskets">100</div>' in html
    assert 'data-metric="top_lift_mean">3.17</div>' in html
    assert 'data-metric="thresholds">support ≥ 0.05<br>confidence ≥ 0.3</div>' in html
    assert "2024-01-01<br>to 2024-06-30" in html
    assert "<h2>3 rules</h2>" in html
    mug_link = f'<a class="item" href="/dashboard/products/{ids["mug"]}/" title="MUG">Blue mug</a>'
    teapot_link = (
        f'<a class="item" href="/dashboard/products/{ids["teapot"]}/" title="TEAPOT">Teapot</a>'
    )
    assert f'<td>{mug_link} <span class="plus">+</span> {teapot_link}</td>' in html
    assert '<td class="num strong">4.50</td>' in html
    assert '<td class="num">0.1500</td>' in html  # support
    assert '<td class="num">0.750</td>' in html  # confidence
    assert '<td class="num">∞</td>' in html  # conviction of a rule with confidence 1
    assert 'title="LAMP">Lamp</a> <span class="badge">inactive</span>' in html
    points = json.loads(
        html.split('<script id="rules-chart-points" type="application/json">')[1].split(
            "</script>"
        )[0]
    )
    assert points[0] == {
        "support": 0.15,
        "confidence": 0.75,
        "lift": 4.5,
        "label": "Blue mug → Teapot",
    }
    assert len(points) == 3
    # The superuser may retrain; the thresholds start at the active version's.
    assert 'action="/dashboard/mining/rules/retrain/"' in html
    form = response.context["retrain_form"]
    assert form.initial == {"min_support": 0.05, "min_confidence": 0.3, "max_length": 3}
    assert 'href="/dashboard/mining/rules/export.csv"' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"item": "tea"}, ["Blue mug > Teapot", "Blue mug + Teapot > Tea caddy", "Teapot > Lamp"]),
        ({"item": "caddy"}, ["Blue mug + Teapot > Tea caddy"]),
        ({"item": "mug"}, ["Blue mug > Teapot", "Blue mug + Teapot > Tea caddy"]),
        ({"min_lift": "2.5"}, ["Blue mug > Teapot", "Blue mug + Teapot > Tea caddy"]),
        ({"min_confidence": "0.8"}, ["Blue mug + Teapot > Tea caddy"]),
        ({"min_support": "0.1"}, ["Blue mug > Teapot", "Teapot > Lamp"]),
        (
            {"sort": "support"},
            ["Blue mug + Teapot > Tea caddy", "Teapot > Lamp", "Blue mug > Teapot"],
        ),
        (
            {"sort": "-conviction"},
            ["Blue mug + Teapot > Tea caddy", "Blue mug > Teapot", "Teapot > Lamp"],
        ),
        (
            {"min_lift": "abc"},
            ["Blue mug > Teapot", "Blue mug + Teapot > Tea caddy", "Teapot > Lamp"],
        ),
    ],
)
def test_the_browser_filters_and_sorts(client, staff_user, shop, query, expected):
    client.force_login(staff_user)

    response = client.get(reverse("mining:rules"), query)

    assert _rows(response) == expected


def test_a_filter_by_product_id_and_a_bad_value_explained(client, staff_user, shop):
    client.force_login(staff_user)

    response = client.get(
        reverse("mining:rules"), {"item": str(shop["ids"]["lamp"]), "min_lift": "abc"}
    )

    html = response.content.decode()
    assert _rows(response) == ["Teapot > Lamp"]
    assert '<li class="error">Min lift: Enter a number. (ignored)</li>' in html
    assert "<h2>1 rule with “" in html


def test_the_browser_pages_and_keeps_the_filters(client, staff_user, shop, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    client.force_login(staff_user)

    first = client.get(reverse("mining:rules"), {"sort": "-lift", "min_lift": "1"})
    second = client.get(reverse("mining:rules"), {"sort": "-lift", "min_lift": "1", "page": "2"})

    assert _rows(first) == ["Blue mug > Teapot", "Blue mug + Teapot > Tea caddy"]
    assert 'href="?sort=-lift&amp;min_lift=1&amp;page=2">Next ›</a>' in first.content.decode()
    assert _rows(second) == ["Teapot > Lamp"]
    assert "Page 2 of 2" in second.content.decode()


def test_column_headers_sort_and_flip(client, staff_user, shop):
    client.force_login(staff_user)

    response = client.get(reverse("mining:rules"), {"sort": "-lift", "page": "1"})

    html = response.content.decode()
    assert '<a href="?sort=lift">Lift ▼</a>' in html
    assert '<a href="?sort=-support">Support</a>' in html


def test_an_older_version_can_be_browsed(client, staff_user, shop):
    ids = shop["ids"]
    v2 = ModelVersion.objects.create(kind="rules", version=2, status=ModelVersion.Status.READY)
    services.rules_store(
        version=v2,
        rules=[
            _rule([ids["caddy"]], ids["mug"], support=0.2, confidence=0.5, lift=1.5, conviction=1.4)
        ],
    )
    client.force_login(staff_user)

    response = client.get(reverse("mining:rules"), {"version": "2"})

    html = response.content.decode()
    assert _rows(response) == ["Tea caddy > Blue mug"]
    assert 'You are looking at v2; the shop uses <a href="?">v1</a>.' in html
    assert '<a href="?version=2" class="current" aria-current="page"' in html


def test_without_rules_the_page_offers_to_mine_them(client, staff_user):
    client.force_login(staff_user)

    response = client.get(reverse("mining:rules"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "No association rules have been mined yet." in html
    assert '<button type="submit">Mine rules</button>' in html


def test_staff_without_the_permission_cannot_retrain_from_the_page(client, intern, shop):
    client.force_login(intern)

    response = client.get(reverse("mining:rules"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Retraining needs the “change model version” permission." in html
    assert "/dashboard/mining/rules/retrain/" not in html


@pytest.mark.parametrize("name", ["mining:rules", "mining:rules-export"])
def test_others_are_sent_to_the_login_page(client, shop, name):
    url = reverse(name)

    anonymous = client.get(url)
    client.force_login(UserFactory(username="shopper"))
    customer = client.get(url)

    for response in (anonymous, customer):
        assert response.status_code == 302
        assert response["Location"] == f"/admin/login/?next={url}"


# --- CSV ------------------------------------------------------------------------------------------


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_csv_export_holds_the_filtered_rules(client, staff_user, shop):
    ids = shop["ids"]
    client.force_login(staff_user)

    response = client.get(reverse("mining:rules-export"), {"item": "caddy"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == ('attachment; filename="association-rules-v1.csv"')
    mug, teapot = sorted([ids["mug"], ids["teapot"]])
    skus = {ids["mug"]: "MUG", ids["teapot"]: "TEAPOT"}
    assert _csv(response) == [
        views.EXPORT_COLUMNS,
        [
            "2",
            f"{mug} {teapot}",
            f"{skus[mug]} {skus[teapot]}",
            "Blue mug + Teapot" if mug == ids["mug"] else "Teapot + Blue mug",
            str(ids["caddy"]),
            "CADDY",
            "Tea caddy",
            "0.06",
            "1.0",
            "3.0",
            "0.0125",
            "inf",
            "20",
            "16",
            "6",
            "100",
        ],
    ]


def test_the_csv_export_of_every_rule_defuses_spreadsheet_formulas(client, staff_user, shop):
    shop["products"]["caddy"].name = "=HYPERLINK(1)"
    shop["products"]["caddy"].save()
    client.force_login(staff_user)

    rows = _csv(client.get(reverse("mining:rules-export")))

    assert [row[0] for row in rows[1:]] == ["1", "2", "3"]
    assert rows[2][6] == "'=HYPERLINK(1)"


def test_the_csv_export_keeps_a_negative_leverage_a_number(client, staff_user, shop):
    # given: a rule whose items are bought together less often than by chance
    from mining.models import AssociationRule

    AssociationRule.objects.filter(model_version=shop["version"], rank=0).update(leverage=-0.002)
    client.force_login(staff_user)

    rows = _csv(client.get(reverse("mining:rules-export")))

    assert rows[1][views.EXPORT_COLUMNS.index("leverage")] == "-0.002"


def test_the_csv_export_without_rules_goes_back_to_the_page(client, staff_user):
    client.force_login(staff_user)

    response = client.get(reverse("mining:rules-export"), follow=True)

    assert response.redirect_chain == [(reverse("mining:rules"), 302)]
    assert _messages(response) == ["There are no rules to export yet."]


# --- retrain --------------------------------------------------------------------------------------


@pytest.fixture
def baskets(db):
    """Twelve orders of the same three products: one frequent itemset of each size."""
    products = [ProductFactory(name=name) for name in ("Cup", "Saucer", "Spoon")]
    for _ in range(12):
        order = OrderFactory()
        for product in products:
            OrderItemFactory(order=order, product=product)
    return products


@pytest.fixture
def retrain(client):
    """POST the Retrain form. Without a broker the queued training runs inline once the view's
    version row commits, so tests that need the trained result use a transactional database."""

    def post(**data):
        form = {"min_support": "0.5", "min_confidence": "0.6", "max_length": "3", "next": "/x/"}
        return client.post(reverse("mining:rules-retrain"), {**form, **data})

    return post


@pytest.mark.django_db(transaction=True)
def test_retrain_trains_with_the_thresholds_typed(client, model_manager, baskets, retrain):
    client.force_login(model_manager)

    response = retrain(next=reverse("mining:rules") + "?min_lift=1")

    version = ModelVersion.objects.get(kind="rules")
    assert response.status_code == 302
    assert response["Location"] == reverse("mining:rules") + "?min_lift=1"
    assert version.params == {
        "min_support": 0.5,
        "min_confidence": 0.6,
        "max_length": 3,
        "max_rules": 50_000,
    }
    assert version.status == ModelVersion.Status.ACTIVE
    assert version.metrics["n_rules"] == 9  # 3 pairs x 2 + 3 triples x 1 consequent each
    followed = client.get(response["Location"])
    assert _messages(followed) == ["Rules v1 is trained (9 rules) and now in use."]


@pytest.mark.django_db(transaction=True)
def test_retrain_explains_a_version_held_back_by_the_gate(
    client, model_manager, baskets, shop, retrain
):
    ModelVersion.objects.filter(id=shop["version"].id).update(
        metrics={**METRICS, "top_lift_mean": 50.0}
    )
    client.force_login(model_manager)

    response = retrain(next="https://evil.example/")

    assert response["Location"] == reverse("mining:rules")
    message = _messages(client.get(reverse("mining:rules")))[0]
    assert message == (
        "Rules v2 is trained (9 rules) but was not put in use: top_lift_mean 1.0000 worse than "
        "active 50.0000 (tolerance 10%). Browse it below or promote it on the Trained models "
        "page."
    )


def test_retrain_with_a_broker_says_the_training_started(client, model_manager, retrain):
    # The test's transaction never commits, as when a worker picks the task up later.
    client.force_login(model_manager)

    response = retrain(next=reverse("mining:rules"))

    assert _messages(client.get(response["Location"])) == [
        "Rules v1 is training; refresh this page in a minute."
    ]
    assert ModelVersion.objects.get(kind="rules").status == ModelVersion.Status.TRAINING


def test_retrain_while_a_training_runs_says_so(client, model_manager, shop, retrain):
    model_version_start(kind="rules")
    client.force_login(model_manager)

    response = retrain(next=reverse("mining:rules"))

    assert _messages(client.get(response["Location"])) == [
        "Association rules are already being trained. The new rules appear here when that "
        "training finishes; retrain again after it if you still need to."
    ]


def test_retrain_with_bad_thresholds_trains_nothing(client, model_manager, shop, retrain):
    client.force_login(model_manager)

    response = retrain(min_support="0.0001", max_length="9", next=reverse("mining:rules"))

    assert _messages(client.get(response["Location"])) == [
        "Not retrained — Min support: Ensure this value is greater than or equal to 0.001. "
        "Max items per rule: Ensure this value is less than or equal to 4."
    ]
    assert ModelVersion.objects.filter(kind="rules").count() == 1


@pytest.mark.django_db(transaction=True)
def test_retrain_on_too_little_data_reports_the_failure(client, model_manager, retrain):
    client.force_login(model_manager)

    response = retrain(next=reverse("mining:rules"))

    assert _messages(client.get(response["Location"])) == [
        "Rules v1 failed: Only 0 sale orders to learn from; association rules need at least 10."
    ]


def test_retrain_needs_the_permission_and_a_post(client, intern, model_manager, shop, retrain):
    client.force_login(intern)
    assert retrain().status_code == 403
    client.force_login(model_manager)
    assert client.get(reverse("mining:rules-retrain")).status_code == 405
    assert ModelVersion.objects.filter(kind="rules").count() == 1


# --- the product page's panel ---------------------------------------------------------------------


def test_the_product_page_shows_what_is_bought_together(client, staff_user, shop):
    ids = shop["ids"]
    client.force_login(staff_user)

    response = client.get(reverse("dashboard:product", args=[ids["mug"]]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "<h2>Frequently bought together</h2>" in html
    assert (
        f'<tr data-fbt-product="{ids["teapot"]}">\n'
        f'      <td><a href="/dashboard/products/{ids["teapot"]}/">Teapot</a> '
        '<span class="muted">TEAPOT</span></td>\n'
        '      <td class="num">24.50 GBP</td>\n'
        '      <td class="num">75%</td>\n'
        '      <td class="num">4.50</td>\n'
        '      <td class="num">0.1500</td>'
    ) in html
    assert f'data-fbt-product="{ids["caddy"]}"' in html
    assert "(with others)" in html
    assert f'href="/dashboard/mining/rules/?item={ids["mug"]}">See every rule with it</a>' in html


def test_the_panel_leaves_out_inactive_products_and_says_when_nothing_fits(
    client, staff_user, shop
):
    client.force_login(staff_user)

    response = client.get(reverse("dashboard:product", args=[shop["ids"]["teapot"]]))

    html = response.content.decode()
    # Teapot -> Lamp exists, but the lamp is inactive; Teapot is in "Blue mug + Teapot".
    assert 'data-fbt-product="' + str(shop["ids"]["lamp"]) not in html
    assert f'data-fbt-product="{shop["ids"]["caddy"]}"' in html
    assert "From rules v1. 1 rule recommends this product." in html


def test_the_panel_without_an_active_model(client, staff_user):
    product = ProductFactory(name="Kettle")
    client.force_login(staff_user)

    html = client.get(reverse("dashboard:product", args=[product.pk])).content.decode()

    assert "No association rules are in use yet." in html


# --- API ------------------------------------------------------------------------------------------


def _fbt_url(product_id) -> str:
    return f"/api/mining/products/{product_id}/frequently-bought-together/"


def test_anyone_reads_frequently_bought_together_for_an_active_product(api_client, shop):
    ids = shop["ids"]

    response = api_client.get(_fbt_url(ids["mug"]), {"limit": 1})

    assert response.status_code == 200
    assert response.json() == {
        "product_id": ids["mug"],
        "model_version": 1,
        "results": [
            {
                "product_id": ids["teapot"],
                "sku": "TEAPOT",
                "name": "Teapot",
                "price": "24.500",
                "currency": "GBP",
                "confidence": 0.75,
                "lift": 4.5,
                "support": 0.15,
                "antecedent_size": 1,
            }
        ],
    }
    assert len(api_client.get(_fbt_url(ids["mug"])).json()["results"]) == 2


@pytest.mark.parametrize("product", ["lamp", "unknown", "huge"])
def test_frequently_bought_together_of_an_inactive_or_unknown_product_is_a_404(
    api_client, staff_api, shop, product
):
    product_id = {"lamp": shop["ids"]["lamp"], "unknown": 999_999, "huge": 2**70}[product]

    assert api_client.get(_fbt_url(product_id)).status_code == 404
    assert staff_api.get(_fbt_url(product_id)).status_code == 404


@pytest.mark.parametrize("limit", ["0", "51", "x"])
def test_a_bad_limit_is_a_400(api_client, shop, limit):
    response = api_client.get(_fbt_url(shop["ids"]["mug"]), {"limit": limit})

    assert response.status_code == 400
    assert list(response.json()) == ["limit"]


def test_frequently_bought_together_without_an_active_model(api_client):
    product = ProductFactory()

    assert api_client.get(_fbt_url(product.pk)).json() == {
        "product_id": product.pk,
        "model_version": None,
        "results": [],
    }


def test_the_rule_list_is_for_staff_with_the_view_permission(api_client, shop):
    anonymous = api_client.get("/api/mining/rules/")
    api_client.force_authenticate(UserFactory(username="intern2", is_staff=True))
    without_permission = api_client.get("/api/mining/rules/")

    assert anonymous.status_code == 401
    assert without_permission.status_code == 403


def test_staff_list_rules_with_the_browser_filters(staff_api, shop):
    ids = shop["ids"]

    response = staff_api.get(
        "/api/mining/rules/", {"item": "teapot", "min_lift": 2.5, "ordering": "confidence"}
    )

    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 2
    assert [row["rank"] for row in body["results"]] == [0, 1]
    assert body["results"][1] == {
        "id": body["results"][1]["id"],
        "rank": 1,
        "antecedent_ids": sorted([ids["mug"], ids["teapot"]]),
        "antecedent_label": body["results"][1]["antecedent_label"],
        "antecedent_size": 2,
        "consequent": {"id": ids["caddy"], "sku": "CADDY", "name": "Tea caddy"},
        "support": 0.06,
        "confidence": 1.0,
        "lift": 3.0,
        "leverage": 0.0125,
        "conviction": None,
        "antecedent_count": 20,
        "consequent_count": 16,
        "rule_count": 6,
        "n_baskets": 100,
    }
    assert sorted(body["results"][1]["antecedent_label"].split(" + ")) == ["Blue mug", "Teapot"]


def test_the_rule_list_refuses_bad_filters(staff_api, shop):
    bad_sort = staff_api.get("/api/mining/rules/", {"ordering": "price"})
    bad_version = staff_api.get("/api/mining/rules/", {"version": 7})
    bad_confidence = staff_api.get("/api/mining/rules/", {"min_confidence": 2})

    assert bad_sort.status_code == 400
    assert list(bad_sort.json()) == ["ordering"]
    assert bad_version.json() == {"version": ["No rules version has this number."]}
    assert list(bad_confidence.json()) == ["min_confidence"]


def test_the_rule_list_is_empty_without_an_active_model(staff_api):
    response = staff_api.get("/api/mining/rules/")

    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


# --- admin ----------------------------------------------------------------------------------------


def test_the_admin_lists_rules_read_only(client, staff_user, shop):
    client.force_login(staff_user)
    rule = shop["version"].association_rules.get(rank=0)

    changelist = client.get("/admin/mining/associationrule/")
    detail = client.get(f"/admin/mining/associationrule/{rule.pk}/change/")

    assert changelist.status_code == 200
    assert "Blue mug" in changelist.content.decode()
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert client.get("/admin/mining/associationrule/add/").status_code == 403


# --- in a browser ---------------------------------------------------------------------------------


@pytest.mark.browser
@requires_chromium
def test_the_chart_and_the_panel_draw_in_a_browser(live_server, staff_user, shop):
    # given: every row exists before Playwright's event loop starts in this thread
    mug = shop["ids"]["mug"]
    with chromium_page() as (page, errors):
        staff_log_in(page, live_server.url, "/dashboard/mining/rules/")

        # when
        page.wait_for_function(
            "() => window.Chart && Chart.getChart(document.getElementById('rules-chart'))"
        )
        points = page.evaluate(
            "() => Chart.getChart(document.getElementById('rules-chart')).data.datasets[0].data"
            ".map(p => [p.x, p.y, p.lift])"
        )
        legend = page.inner_text(".lift-legend")
        page.click(f"a.item[href='/dashboard/products/{mug}/'] >> nth=0")
        page.wait_for_url(f"{live_server.url}/dashboard/products/{mug}/")
        panel = page.inner_text(".fbt-panel tbody")

    # then
    assert points == [[0.15, 0.75, 4.5], [0.06, 1, 3], [0.1, 0.4, 2]]
    assert legend == "lift 2.0\nlift 4.5"
    assert panel.split("\n") == [
        "Teapot TEAPOT\t24.50 GBP\t75%\t4.50\t0.1500",
        "Tea caddy CADDY (with others)\t8.00 GBP\t100%\t3.00\t0.0600",
    ]
    assert errors == []
