"""Search by photo (API and storefront page), bad uploads, rate limits, similar products."""

import io
import struct
import zlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from shopops.registry import services as registry
from shopops.store.models import ProductImage
from tests.vision.conftest import png_bytes, shape_png, train_tiny
from vision import selectors
from vision.models import ImageEmbedding, PhotoSearch


def _stored_bytes(product) -> bytes:
    image = ProductImage.objects.get(product=product)
    with image.image.open("rb") as handle:
        return handle.read()


def _media_files(settings) -> list[str]:
    root = settings.MEDIA_ROOT
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_search_returns_the_planted_product_first(trained, shop, api_client):
    # given: the exact photo of one product
    planted = shop["products"][5]

    # when
    response = api_client.post(
        "/api/vision/search/",
        {"image": SimpleUploadedFile("query.png", _stored_bytes(planted)), "limit": 3},
        format="multipart",
    )

    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model_version"] == trained.version
    assert len(body["results"]) == 3
    first = body["results"][0]
    assert (first["product_id"], first["name"], first["price"]) == (
        planted.pk,
        planted.name,
        "9.990",
    )
    assert first["similarity"] == 1.0
    assert first["image_url"].startswith("http://testserver/media/products/")
    log = PhotoSearch.objects.get()
    assert (log.channel, log.top_product_id, log.result_count) == ("api", planted.pk, 3)


def test_the_storefront_page_shows_the_matching_product(trained, shop, client):
    planted = shop["products"][2]
    page = client.get("/photo-search/")
    response = client.post(
        "/photo-search/", {"image": SimpleUploadedFile("q.png", _stored_bytes(planted))}
    )
    assert page.status_code == 200
    assert response.status_code == 200
    assert response.context["matches"][0].product_id == planted.pk
    html = response.content.decode()
    assert f'data-product-id="{planted.pk}"' in html
    assert '<span class="price">£9.99</span>' in html


def test_without_an_active_model_search_says_it_is_unavailable(shop, api_client):
    response = api_client.post(
        "/api/vision/search/",
        {"image": SimpleUploadedFile("q.png", shape_png("circle", 1))},
        format="multipart",
    )
    assert response.status_code == 503
    assert response.json() == {
        "detail": "Search by photo is not available yet: no image model has been trained."
    }


def _truncated_png() -> bytes:
    data = png_bytes(Image.new("RGB", (64, 64), (200, 10, 10)).effect_spread(3))
    return data[: len(data) // 2]


def _bomb_png() -> bytes:
    """A tiny file that claims 30000 x 30000 pixels (900 M): Pillow's bomb check trips."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def _encoded(format_name: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buffer, format=format_name)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("notes.png", b"this is not an image at all", "not_an_image"),
        ("cut.png", _truncated_png(), "truncated"),
        ("bomb.png", _bomb_png(), "decompression_bomb"),
        ("anim.gif", _encoded("GIF"), "unsupported_format"),
        ("old.bmp", _encoded("BMP"), "unsupported_format"),
        ("empty.png", b"", "empty"),
    ],
    ids=["not-an-image", "truncated", "bomb", "gif", "bmp", "empty"],
)
def test_bad_uploads_get_a_clear_400_and_nothing_is_stored(
    trained, shop, api_client, settings, name, data, reason
):
    # given
    files_before = _media_files(settings)
    embeddings_before = ImageEmbedding.objects.count()

    # when
    response = api_client.post(
        "/api/vision/search/", {"image": SimpleUploadedFile(name, data)}, format="multipart"
    )

    # then
    assert response.status_code == 400, response.content
    if reason != "empty":  # DRF's own "The submitted file is empty." answers first
        assert response.json()["reason"] == reason
    assert PhotoSearch.objects.count() == 0
    assert ImageEmbedding.objects.count() == embeddings_before
    assert _media_files(settings) == files_before


def test_an_oversized_upload_is_refused_before_it_is_decoded(trained, api_client, settings):
    settings.VISION_UPLOAD_MAX_BYTES = 1000
    data = png_bytes(Image.effect_noise((64, 64), 60).convert("RGB"))
    response = api_client.post(
        "/api/vision/search/", {"image": SimpleUploadedFile("big.png", data)}, format="multipart"
    )
    assert len(data) > 1000
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The photo is too large: upload at most 0.000953674 MB.",
        "reason": "too_large",
    }


def test_too_many_pixels_is_refused(trained, api_client, settings):
    settings.VISION_UPLOAD_MAX_PIXELS = 100
    response = api_client.post(
        "/api/vision/search/",
        {"image": SimpleUploadedFile("wide.png", shape_png("circle", 3))},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["reason"] == "too_many_pixels"


def test_the_storefront_page_shows_upload_errors(trained, client):
    response = client.post(
        "/photo-search/", {"image": SimpleUploadedFile("x.gif", _encoded("GIF"))}
    )
    assert response.status_code == 400
    assert (
        "This image format is not supported: upload a JPEG, PNG or WebP photo."
        in response.content.decode()
    )
    assert PhotoSearch.objects.count() == 0


def test_uploads_are_rate_limited_per_client(shop, api_client, client, settings):
    # given
    settings.VISION_SEARCH_RATE = "2/minute"

    def upload():
        return {"image": SimpleUploadedFile("x.png", b"not an image")}

    # when
    api_statuses = [
        api_client.post("/api/vision/search/", upload(), format="multipart").status_code
        for _ in range(3)
    ]
    # the storefront page shares the same per-client budget, already spent by this address
    page = client.post("/photo-search/", upload())

    # then
    assert api_statuses == [400, 400, 429]
    assert page.status_code == 429
    assert "Too many photo searches" in page.content.decode()


def test_similar_products_exclude_the_product_itself(trained, shop, api_client):
    product = shop["products"][0]
    response = api_client.get(f"/api/vision/products/{product.pk}/similar/?limit=4")
    matches = selectors.product_similar_products(product_id=product.pk, limit=4)
    assert response.status_code == 200
    ids = [row["product_id"] for row in response.json()["results"]]
    assert ids == [match.product_id for match in matches]
    assert len(ids) == 4
    assert product.pk not in ids
    similarities = [row["similarity"] for row in response.json()["results"]]
    assert similarities == sorted(similarities, reverse=True)


def test_similar_products_of_an_unknown_product_is_a_404(db, api_client):
    assert api_client.get("/api/vision/products/999999/similar/").status_code == 404


def test_promotion_reindexes_the_catalogue(trained, shop, django_capture_on_commit_callbacks):
    # given: v1 indexed every image
    images = ProductImage.objects.count()
    assert set(ImageEmbedding.objects.values_list("model_version_id", flat=True)) == {trained.id}

    # when: v2 trains (same data and seed: same accuracy, so the gate promotes it)
    second = train_tiny(django_capture_on_commit_callbacks)
    after_second = sorted(ImageEmbedding.objects.values_list("model_version_id", flat=True))
    # and a rollback promotes v1 again
    with django_capture_on_commit_callbacks(execute=True):
        registry.model_version_rollback(kind="cnn")
    after_rollback = sorted(ImageEmbedding.objects.values_list("model_version_id", flat=True))

    # then
    assert second.status == second.Status.ACTIVE
    assert after_second == [second.id] * images
    assert after_rollback == [trained.id] * images


def test_a_replaced_photo_is_reindexed(trained, shop, django_capture_on_commit_callbacks):
    from shopops.store import services as store_services

    image = ProductImage.objects.first()
    old_name = image.image.name
    image.image = ContentFile(shape_png("triangle", 77), name="replaced.png")
    with django_capture_on_commit_callbacks(execute=True):
        store_services.product_image_save(image=image)
    embedding = ImageEmbedding.objects.get(image=image)
    assert embedding.image_name == image.image.name != old_name


def test_a_photo_moved_to_another_product_is_found_as_that_product(
    trained, shop, api_client, django_capture_on_commit_callbacks
):
    # given: the index has been built once, with the photo under its first product
    from shopops.store import services as store_services

    first, second = shop["products"][5], shop["products"][6]
    photo = _stored_bytes(first)
    selectors.embedding_index(version_id=trained.id)
    image = ProductImage.objects.get(product=first)

    # when: the merchant moves the photo to the second product (as the admin does)
    image.product = second
    with django_capture_on_commit_callbacks(execute=True):
        store_services.product_image_save(image=image)

    # then: its embedding names the second product, and search finds that product
    assert list(
        ImageEmbedding.objects.filter(image=image).values_list("product_id", flat=True)
    ) == [second.pk]
    response = api_client.post(
        "/api/vision/search/",
        {"image": SimpleUploadedFile("query.png", photo), "limit": 1},
        format="multipart",
    )
    assert response.json()["results"][0]["product_id"] == second.pk


def test_every_storefront_page_links_to_search_by_photo(client, db):
    response = client.get("/")

    assert '<a href="/photo-search/">Search by photo</a>' in response.content.decode()
