"""The storefront's search by photo page, under /photo-search/ (anyone may use it)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from vision.models import PhotoSearch
from vision.views import _photo_search_context


def photo_search_page(request: HttpRequest) -> HttpResponse:
    context: dict = {}
    status = 200
    if request.method == "POST":
        context, status = _photo_search_context(request, PhotoSearch.Channel.STOREFRONT)
    return render(request, "vision/storefront_search.html", context, status=status)
