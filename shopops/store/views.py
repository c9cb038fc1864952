"""The public storefront: a catalogue listing with search and categories, and product pages."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from shopops.store import selectors, storefront
from shopops.store.models import Product


def _session_key(request: HttpRequest) -> str:
    """The visitor's session key, creating the session on their first tracked request."""
    if not request.session.session_key:
        request.session.save()
    return request.session.session_key or ""


def home(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    category_slug = request.GET.get("category", "")
    category = storefront.storefront_category_get(slug=category_slug) if category_slug else None
    if category_slug and category is None:
        raise Http404("No such category.")
    page, cards = storefront.storefront_product_page(
        query=query, category=category, page=request.GET.get("page")
    )
    if query and page.number == 1:
        storefront.product_search_record(
            query=query,
            customer=selectors.customer_for_user(user=request.user),
            session_key=_session_key(request),
        )
    context = {
        "page": page,
        "products": cards,
        "query": query,
        "category": category,
        "categories": storefront.storefront_categories(),
    }
    return render(request, "storefront/home.html", context)


def product_detail(request: HttpRequest, product_id: int) -> HttpResponse:
    try:
        product = storefront.storefront_product_get(product_id=product_id)
    except Product.DoesNotExist:
        raise Http404("No such product.") from None
    storefront.product_view_record(
        product=product,
        customer=selectors.customer_for_user(user=request.user),
        session_key=_session_key(request),
    )
    context = {
        "product": product,
        "price": storefront.price_format(amount=product.price, currency=product.currency),
        "images": list(product.images.all()),
        "categories": storefront.storefront_categories(),
    }
    return render(request, "storefront/product.html", context)
