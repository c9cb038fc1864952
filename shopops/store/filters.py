"""Pagination, ordering and FilterSets for the REST API's list endpoints."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import PageNumberPagination

from shopops.store.models import Category, Customer, Order, Product
from shopops.store.selectors import category_descendant_ids


class ApiPagination(PageNumberPagination):
    """``?page=N&page_size=M``; a page never holds more than 200 rows, whatever is asked."""

    page_size_query_param = "page_size"
    max_page_size = 200


class StableOrderingFilter(OrderingFilter):
    """Ordering with the primary key as the last tie-breaker, so pages never overlap or skip."""

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if not ordering:
            return ordering
        ordering = list(ordering)
        if not any(term.lstrip("-") in {"pk", "id"} for term in ordering):
            ordering.append("-pk" if ordering[0].startswith("-") else "pk")
        return ordering


@extend_schema_field(OpenApiTypes.INT)
class CategoryChoiceFilter(django_filters.ModelChoiceFilter):
    """A category given by id (the schema says integer, not the default string)."""


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """A row id: a whole number in the database's range (anything else is a 400)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class ProductFilter(django_filters.FilterSet):
    category = CategoryChoiceFilter(
        queryset=Category.objects.all(),
        method="filter_category",
        help_text="Category id; products in its subcategories are included.",
    )
    is_active = django_filters.BooleanFilter()
    min_price = django_filters.NumberFilter(
        field_name="price", lookup_expr="gte", help_text="Lowest price, inclusive."
    )
    max_price = django_filters.NumberFilter(
        field_name="price", lookup_expr="lte", help_text="Highest price, inclusive."
    )

    class Meta:
        model = Product
        fields = ["category", "is_active", "min_price", "max_price"]

    def filter_category(
        self, queryset: QuerySet[Product], name: str, value: Category
    ) -> QuerySet[Product]:
        return queryset.filter(category_id__in=category_descendant_ids(category_id=value.pk))


class CategoryFilter(django_filters.FilterSet):
    parent = IdFilter(field_name="parent_id", help_text="Parent category id.")
    is_root = django_filters.BooleanFilter(
        field_name="parent", lookup_expr="isnull", help_text="Only top-level categories."
    )

    class Meta:
        model = Category
        fields = ["parent", "is_root"]


class CustomerFilter(django_filters.FilterSet):
    country = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Customer
        fields = ["country"]


class OrderFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=Order.Status.choices, help_text="One or more statuses (repeat the parameter)."
    )
    # A plain id (not a model choice) so that naming another customer's id tells a customer
    # nothing: their queryset is already scoped, and the answer is simply empty.
    customer = IdFilter(field_name="customer_id", help_text="Customer id.")
    placed_after = django_filters.IsoDateTimeFilter(
        field_name="placed_at",
        lookup_expr="gte",
        help_text="Placed at or after this ISO 8601 date or date-time (inclusive).",
    )
    placed_before = django_filters.IsoDateTimeFilter(
        field_name="placed_at",
        lookup_expr="lt",
        help_text="Placed before this ISO 8601 date or date-time (exclusive).",
    )

    class Meta:
        model = Order
        fields = ["status", "customer", "placed_after", "placed_before"]
