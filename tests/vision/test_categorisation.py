"""Auto-categorisation: the store's image hook, the task, suggestions, the merchant's decisions."""

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shopops.store import services as store_services
from shopops.store.models import ProductImage
from tests.factories import CategoryFactory, CategorySuggestionFactory, ProductFactory
from tests.vision.conftest import shape_png
from vision import selectors, services
from vision.engine.preprocess import decode_image
from vision.models import CategorySuggestion, ImageEmbedding


@pytest.fixture
def enqueued(monkeypatch):
    """Image ids handed to the categorisation task (instead of running it)."""
    from vision import tasks

    calls = []
    monkeypatch.setattr(tasks.product_image_analyse_task, "delay", calls.append)
    return calls


def test_adding_an_image_through_the_api_enqueues_its_analysis_after_commit(
    shop, staff_api, enqueued, django_capture_on_commit_callbacks
):
    # given
    product = shop["products"][0]

    # when
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = staff_api.post(
            f"/api/products/{product.pk}/images/",
            {"image": SimpleUploadedFile("new.png", shape_png("circle", 99)), "alt_text": "New"},
            format="multipart",
        )
    queued_before_commit = list(enqueued)
    for callback in callbacks:
        callback()

    # then
    assert response.status_code == 201, response.content
    image = ProductImage.objects.get(pk=response.json()["id"])
    assert (image.product_id, image.alt_text) == (product.pk, "New")
    assert queued_before_commit == []
    assert enqueued == [image.pk]


def test_adding_an_image_in_the_django_admin_enqueues_its_analysis(
    shop, client, staff_user, enqueued, django_capture_on_commit_callbacks
):
    # given
    client.force_login(staff_user)
    product = shop["products"][1]

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/store/productimage/add/",
            {
                "product": product.pk,
                "image": SimpleUploadedFile("admin.png", shape_png("square", 7)),
                "alt_text": "From the admin",
                "position": 1,
            },
        )

    # then
    assert response.status_code == 302
    image = ProductImage.objects.get(alt_text="From the admin")
    assert enqueued == [image.pk]


def test_editing_only_the_alt_text_does_not_enqueue_anything(
    shop, enqueued, django_capture_on_commit_callbacks
):
    image = ProductImage.objects.first()
    image.alt_text = "changed"
    with django_capture_on_commit_callbacks(execute=True):
        store_services.product_image_save(image=image)
    assert enqueued == []


def test_the_task_stores_the_models_suggestion_and_embedding(
    trained, shop, django_capture_on_commit_callbacks
):
    # given: a new photo of a product that has no category yet
    product = ProductFactory(name="Mystery", category=None)
    data = shape_png("circle", 1234)

    # when: the store service adds it; the hook runs the (eager) task after commit
    with django_capture_on_commit_callbacks(execute=True):
        image = store_services.product_image_create(
            product=product, data={"image": ContentFile(data, name="m.png")}
        )

    # then: the suggestion is exactly the active model's top class for that photo
    model = services.model_load(version=trained)
    probabilities = model.classifier.predict_proba(model.arrays([decode_image(data)]))[0]
    expected = model.classifier.classes_[probabilities.argmax()]
    suggestion = CategorySuggestion.objects.get(image=image)
    assert suggestion.predicted_category_id == int(expected)
    assert suggestion.confidence == pytest.approx(float(probabilities.max()), abs=1e-6)
    assert (suggestion.status, suggestion.model_version_id) == ("pending", trained.id)
    embedding = ImageEmbedding.objects.get(image=image)
    assert (embedding.model_version_id, embedding.product_id) == (trained.id, product.pk)
    expected_vector = model.classifier.embed(model.arrays([decode_image(data)]))[0]
    np.testing.assert_allclose(
        np.frombuffer(embedding.vector, dtype=np.float32), expected_vector, atol=1e-6
    )


def test_suggestions_below_the_confidence_threshold_are_not_stored(
    trained, shop, settings, django_capture_on_commit_callbacks
):
    settings.VISION_SUGGESTION_MIN_CONFIDENCE = 1.01
    product = ProductFactory(category=None)
    with django_capture_on_commit_callbacks(execute=True):
        image = store_services.product_image_create(
            product=product, data={"image": ContentFile(shape_png("square", 5), name="s.png")}
        )
    assert not CategorySuggestion.objects.filter(image=image).exists()
    assert ImageEmbedding.objects.filter(image=image).count() == 1


def test_accepting_a_suggestion_gives_the_product_its_category(staff_api, staff_user):
    # given
    suggestion = CategorySuggestionFactory(image__product__category=None)

    # when
    response = staff_api.post(f"/api/vision/suggestions/{suggestion.pk}/accept/")

    # then
    assert response.status_code == 200, response.content
    suggestion.refresh_from_db()
    suggestion.image.product.refresh_from_db()
    assert suggestion.status == "accepted"
    assert suggestion.decided_by == staff_user
    assert suggestion.image.product.category_id == suggestion.predicted_category_id
    assert response.json()["status"] == "accepted"


def test_correcting_a_suggestion_sets_the_right_category(staff_api):
    # given
    suggestion = CategorySuggestionFactory()
    right = CategoryFactory(name="Right")

    # when
    response = staff_api.post(
        f"/api/vision/suggestions/{suggestion.pk}/correct/", {"category": right.pk}, format="json"
    )

    # then
    assert response.status_code == 200, response.content
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.corrected_category_id) == ("corrected", right.pk)
    assert suggestion.image.product.category_id == right.pk


def test_a_decided_suggestion_cannot_be_decided_again(staff_api):
    suggestion = CategorySuggestionFactory(status="dismissed")
    response = staff_api.post(f"/api/vision/suggestions/{suggestion.pk}/accept/")
    assert response.status_code == 409
    assert response.json() == {"detail": "This suggestion was already Dismissed."}


def test_correcting_to_an_unknown_category_is_refused(staff_api):
    suggestion = CategorySuggestionFactory()
    response = staff_api.post(
        f"/api/vision/suggestions/{suggestion.pk}/correct/", {"category": 999999}, format="json"
    )
    assert response.status_code == 409
    suggestion.refresh_from_db()
    assert suggestion.status == "pending"


def test_dismissing_changes_nothing_about_the_product(db):
    suggestion = CategorySuggestionFactory()
    before = suggestion.image.product.category_id
    services.suggestion_dismiss(suggestion_id=suggestion.pk, user=None)
    suggestion.refresh_from_db()
    suggestion.image.product.refresh_from_db()
    assert suggestion.status == "dismissed"
    assert suggestion.image.product.category_id == before


def test_corrections_and_acceptances_become_training_labels(shop):
    # given: one image corrected to another category, one accepted for a product without one
    boxy = shop["categories"]["Boxy"]
    pointy = shop["categories"]["Pointy"]
    round_image = ProductImage.objects.filter(product__category__name="Round").first()
    CategorySuggestionFactory(
        image=round_image, predicted_category=pointy, status="corrected", corrected_category=boxy
    )
    uncategorised = ProductFactory(category=None)
    accepted_image = ProductImage.objects.create(
        product=uncategorised, image=ContentFile(shape_png("triangle", 3), name="t.png")
    )
    CategorySuggestionFactory(image=accepted_image, predicted_category=pointy, status="accepted")
    dismissed_product = ProductFactory(category=None)
    dismissed_image = ProductImage.objects.create(
        product=dismissed_product, image=ContentFile(shape_png("circle", 4), name="c.png")
    )
    CategorySuggestionFactory(image=dismissed_image, predicted_category=boxy, status="dismissed")

    # when
    labels = {row.image_id: row.category_id for row in selectors.training_images()}

    # then
    assert labels[round_image.pk] == boxy.pk
    assert labels[accepted_image.pk] == pointy.pk
    assert dismissed_image.pk not in labels
    assert len(labels) == 13


def test_suggestion_api_is_staff_only(api_client, customer_user):
    suggestion = CategorySuggestionFactory()
    anonymous = api_client.get("/api/vision/suggestions/")
    api_client.force_authenticate(customer_user[0])
    customer_list = api_client.get("/api/vision/suggestions/")
    customer_accept = api_client.post(f"/api/vision/suggestions/{suggestion.pk}/accept/")
    assert anonymous.status_code == 401
    assert (customer_list.status_code, customer_accept.status_code) == (403, 403)


def test_staff_list_pending_suggestions(staff_api):
    pending = CategorySuggestionFactory(confidence=0.8)
    CategorySuggestionFactory(status="dismissed")
    response = staff_api.get("/api/vision/suggestions/")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [pending.pk]


def test_a_non_image_added_through_the_store_api_is_a_400_and_nothing_is_queued(
    shop, staff_api, enqueued, django_capture_on_commit_callbacks
):
    product = shop["products"][0]
    before = ProductImage.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_api.post(
            f"/api/products/{product.pk}/images/",
            {"image": SimpleUploadedFile("notes.png", b"plain text")},
            format="multipart",
        )
    assert response.status_code == 400
    assert list(response.json()) == ["image"]
    assert ProductImage.objects.count() == before
    assert enqueued == []


def test_customers_cannot_add_product_images(shop, api_client, customer_user):
    api_client.force_authenticate(customer_user[0])
    response = api_client.post(
        f"/api/products/{shop['products'][0].pk}/images/",
        {"image": SimpleUploadedFile("a.png", shape_png("circle", 1))},
        format="multipart",
    )
    assert response.status_code == 403


def test_analysing_a_batch_writes_in_fixed_queries_and_keeps_the_merchants_decisions(
    trained, shop, settings
):
    # given: every shop photo; the merchant dismissed one suggestion, another is an old guess
    images = list(ProductImage.objects.select_related("product").order_by("pk"))
    other = CategoryFactory(name="Elsewhere")
    dismissed = CategorySuggestionFactory(image=images[0], status="dismissed", confidence=0.9)
    CategorySuggestionFactory(
        image=images[1], status="pending", confidence=0.99, predicted_category=other
    )
    services.images_analyse(images=images[:1], version=trained)  # loads the model

    # when: a batch of two, then the whole shop, are analysed
    with CaptureQueriesContext(connection) as two:
        assert services.images_analyse(images=images[:2], version=trained) == 2
    with CaptureQueriesContext(connection) as everything:
        assert services.images_analyse(images=images, version=trained) == len(images)

    # then: the batch size does not change the number of queries ...
    assert len(everything) == len(two)
    # ... the decision stands, and every other image has a pending suggestion exactly when
    # the model confidently disagrees with its product's category
    dismissed.refresh_from_db()
    assert dismissed.status == "dismissed"
    model = services.model_load(version=trained)
    pictures = [decode_image(image.image.read()) for image in images[1:]]
    probabilities = model.classifier.predict_proba(model.arrays(pictures))
    expected = {}
    for image, row in zip(images[1:], probabilities, strict=True):
        category_id = int(model.classifier.classes_[row.argmax()])
        if (
            row.max() >= settings.VISION_SUGGESTION_MIN_CONFIDENCE
            and category_id != image.product.category_id
        ):
            expected[image.pk] = category_id
    pending = CategorySuggestion.objects.filter(status="pending")
    assert dict(pending.values_list("image_id", "predicted_category_id")) == expected
    assert ImageEmbedding.objects.filter(model_version=trained).count() == len(images)
