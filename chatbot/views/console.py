"""Merchant chat pages (console)."""

urlpatterns: list = []
