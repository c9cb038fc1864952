"""The vision app's merchant pages: permissions, model runs, suggestions, tester, product panel."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from shopops.registry.models import ModelVersion
from shopops.store.models import ProductImage
from tests.factories import CategoryFactory, CategorySuggestionFactory
from tests.vision.conftest import CATEGORY_SHAPES, TINY_PARAMS

PAGES = ["/dashboard/vision/", "/dashboard/vision/suggestions/", "/dashboard/vision/search/"]


@pytest.mark.parametrize("url", PAGES)
def test_merchant_pages_are_for_staff_only(db, client, customer_user, staff_user, url):
    anonymous = client.get(url)
    client.force_login(customer_user[0])
    customer = client.get(url)
    client.force_login(staff_user)
    staff = client.get(url)
    # as on every dashboard page: anyone but staff is sent to the login page
    for response in (anonymous, customer):
        assert response.status_code == 302
        assert response["Location"] == f"/admin/login/?next={url}"
    assert staff.status_code == 200


def test_the_model_runs_page_shows_curves_confusion_matrix_and_baseline(
    trained, client, staff_user
):
    # given
    client.force_login(staff_user)

    # when
    response = client.get("/dashboard/vision/")

    # then
    assert response.status_code == 200
    context = response.context
    assert context["selected"] == trained
    assert context["chart"]["epochs"] == [1, 2, 3]
    assert [row["label"] for row in context["confusion"]] == sorted(CATEGORY_SHAPES)
    validation_images = sum(cell["count"] for row in context["confusion"] for cell in row["cells"])
    assert validation_images == trained.metrics["n_validation"] == 3
    assert [row["label"] for row in context["per_class"]] == ["Boxy", "Pointy", "Round"]
    html = response.content.decode()
    assert 'data-metric="baseline_accuracy"' in html
    assert f"{trained.metrics['baseline_accuracy']:.4f}" in html
    assert 'id="vision-loss-chart"' in html


def test_train_now_trains_a_cnn_through_the_registry(
    shop, client, staff_user, django_capture_on_commit_callbacks
):
    # given: the tiny parameters, as the registry's defaults for this test
    from shopops.registry import services as registry

    trainer = registry.trainer_get(kind="cnn")
    original = dict(trainer.default_params)
    trainer.default_params.update(TINY_PARAMS)
    client.force_login(staff_user)
    try:
        # when
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/dashboard/models/train/", {"kind": "cnn", "next": "/dashboard/vision/"}
            )
    finally:
        trainer.default_params.clear()
        trainer.default_params.update(original)

    # then
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/vision/"
    version = ModelVersion.objects.get(kind="cnn")
    assert (version.version, version.status) == (1, "active")


def test_staff_accept_and_correct_suggestions_on_the_page(db, client, staff_user):
    # given
    accepted = CategorySuggestionFactory(confidence=0.9)
    corrected = CategorySuggestionFactory(confidence=0.8)
    right = CategoryFactory(name="Right")
    client.force_login(staff_user)
    listed = client.get("/dashboard/vision/suggestions/")

    # when
    accept = client.post(
        f"/dashboard/vision/suggestions/{accepted.pk}/decide/", {"decision": "accept"}
    )
    correct = client.post(
        f"/dashboard/vision/suggestions/{corrected.pk}/decide/",
        {"decision": "correct", "category": right.pk},
    )

    # then
    assert [s.pk for s in listed.context["page"].object_list] == [accepted.pk, corrected.pk]
    assert accept.status_code == correct.status_code == 302
    accepted.refresh_from_db()
    corrected.refresh_from_db()
    assert accepted.status == "accepted"
    assert (corrected.status, corrected.corrected_category_id) == ("corrected", right.pk)
    assert client.get("/dashboard/vision/suggestions/").context["page"].paginator.count == 0


def test_customers_cannot_decide_suggestions(db, client, customer_user):
    suggestion = CategorySuggestionFactory()
    client.force_login(customer_user[0])
    response = client.post(
        f"/dashboard/vision/suggestions/{suggestion.pk}/decide/", {"decision": "accept"}
    )
    suggestion.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert suggestion.status == "pending"


def test_the_search_tester_finds_the_photo_s_product(trained, shop, client, staff_user):
    client.force_login(staff_user)
    image = ProductImage.objects.get(product=shop["products"][7])
    with image.image.open("rb") as handle:
        data = handle.read()
    response = client.post(
        "/dashboard/vision/search/", {"image": SimpleUploadedFile("q.png", data)}
    )
    assert response.status_code == 200
    assert response.context["matches"][0].product_id == shop["products"][7].pk
    assert response.context["recent"][0].channel == "dashboard"


def test_the_product_page_shows_visually_similar_products(trained, shop, client, staff_user):
    client.force_login(staff_user)
    product = shop["products"][0]
    response = client.get(f"/dashboard/products/{product.pk}/")
    panels = {panel["title"]: panel for panel in response.context["panels"]}
    assert response.status_code == 200
    panel = panels["Visually similar products"]
    assert panel["failed"] is False
    assert panel["html"].count("<li>") == 6
    assert f"/dashboard/products/{product.pk}/" not in panel["html"]
