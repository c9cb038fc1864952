"""The Django admin: every model's pages open, stay cheap with many rows, and guard the registry."""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse

from shopops.registry.models import ModelVersion
from shopops.store.models import ImportRun
from tests.factories import (
    CategoryFactory,
    EventFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db

MODELS = [
    "store.category",
    "store.product",
    "store.productimage",
    "store.customer",
    "store.order",
    "store.orderitem",
    "store.event",
    "store.importrun",
    "registry.modelversion",
]


def _changelist(label: str) -> str:
    app_label, model = label.split(".")
    return reverse(f"admin:{app_label}_{model}_changelist")


def test_every_shop_and_registry_model_is_registered():
    registered = {f"{m._meta.app_label}.{m._meta.model_name}" for m in admin.site._registry}

    assert set(MODELS) <= registered


@pytest.mark.parametrize("label", MODELS)
def test_every_change_list_opens(admin_client, label, model_versions, shop_orders):
    EventFactory()
    ImportRun.objects.create(file_name="x.csv", file_format="online-retail")

    response = admin_client.get(_changelist(label))

    assert response.status_code == 200


def _shop(orders: int) -> None:
    parent = CategoryFactory(name="Home")
    category = CategoryFactory(name="Kitchen", parent=parent)
    for _ in range(orders):
        item = OrderItemFactory(product=ProductFactory(category=category), order=OrderFactory())
        EventFactory(product=item.product, customer=item.order.customer)


@pytest.mark.parametrize(
    "label", ["store.product", "store.order", "store.orderitem", "store.event"]
)
def test_change_lists_do_not_query_per_row(admin_client, label, django_assert_max_num_queries):
    _shop(3)
    with django_assert_max_num_queries(30) as few:
        admin_client.get(_changelist(label))
    _shop(12)

    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(_changelist(label))


def test_product_category_filter_includes_subcategories(admin_client):
    home = CategoryFactory(name="Home")
    kitchen = CategoryFactory(name="Kitchen", parent=home)
    ProductFactory(name="Mug", category=kitchen)
    ProductFactory(name="Rake", category=CategoryFactory(name="Garden"))

    response = admin_client.get(_changelist("store.product"), {"category": home.id})

    assert [p.name for p in response.context["cl"].result_list] == ["Mug"]
    assert ">Home / Kitchen</a>" in response.content.decode()


def test_order_page_shows_its_items_with_raw_id_products(admin_client):
    item = OrderItemFactory(quantity=2, unit_price=Decimal("3.500"))

    response = admin_client.get(reverse("admin:store_order_change", args=[item.order_id]))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="items-0-product"' in html
    assert 'class="vForeignKeyRawIdAdminField"' in html


def test_import_runs_and_model_versions_cannot_be_added_by_hand(admin_client):
    assert admin_client.get(reverse("admin:store_importrun_add")).status_code == 403
    assert admin_client.get(reverse("admin:registry_modelversion_add")).status_code == 403


def test_an_import_run_is_read_only(admin_client):
    run = ImportRun.objects.create(file_name="x.csv", file_format="online-retail")

    response = admin_client.post(
        reverse("admin:store_importrun_change", args=[run.id]),
        {"file_name": "changed.csv", "file_format": "online-retail", "status": "failed"},
    )

    run.refresh_from_db()
    assert response.status_code == 403
    assert (run.file_name, run.status) == ("x.csv", "running")


def test_model_version_fields_are_read_only(admin_client, model_versions):
    url = reverse("admin:registry_modelversion_change", args=[model_versions["v1"].id])

    response = admin_client.get(url)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="status"' not in html
    assert 'name="artifact_sha256"' not in html


def test_the_promote_action_promotes_through_the_service(admin_client, model_versions):
    response = admin_client.post(
        _changelist("registry.modelversion"),
        {
            "action": "promote",
            admin.helpers.ACTION_CHECKBOX_NAME: [
                model_versions["v1"].id,
                model_versions["churn"].id,
            ],
        },
        follow=True,
    )

    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        "Only a ready version can be promoted; churn v1 (failed) is failed.",
        "segmentation v1 is active.",
    ]
    assert dict(
        ModelVersion.objects.filter(kind="segmentation").values_list("version", "status")
    ) == {1: "active", 2: "ready", 3: "training"}


def test_order_and_event_lists_skip_the_full_count(admin_client):
    OrderFactory()
    EventFactory()

    orders = admin_client.get(_changelist("store.order"))
    events = admin_client.get(_changelist("store.event"))

    assert orders.context["cl"].show_full_result_count is False
    assert events.context["cl"].show_full_result_count is False
