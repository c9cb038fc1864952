"""Merchant chat pages (pages)."""

urlpatterns: list = []
