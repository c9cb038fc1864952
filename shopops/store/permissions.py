"""Who may call what in the REST API.

- Staff act by Django model permissions: ``view_`` to read, ``add_``/``change_``/``delete_`` to
  write (superusers hold them all). A staff member without ``view_order`` sees no other
  customer's orders.
- A logged-in customer (a user linked to ``store.Customer``) reads their own customer record and
  orders; the querysets are scoped (see ``store.selectors``) so another customer's id is a 404.
- Anonymous visitors read the public catalogue (active products, categories) only.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions

from shopops.store.selectors import customer_for_user


class StaffModelPermissions(DjangoModelPermissions):
    """Staff holding the model permission of the request's method, reads included."""

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        return super().has_permission(request, view)


class CatalogPermissions(StaffModelPermissions):
    """Anyone reads (the queryset hides inactive products); staff write by model permission."""

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().has_permission(request, view)


class CustomerScopedPermissions(StaffModelPermissions):
    """Staff by model permission; a logged-in customer may also read (their own rows only)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if super().has_permission(request, view):
            return True
        return request.method in SAFE_METHODS and customer_for_user(user=user) is not None


def staff_permission(*permissions: str) -> type[BasePermission]:
    """A permission class: staff holding every one of ``permissions`` (``"app.codename"``)."""

    class StaffWith(BasePermission):
        def has_permission(self, request, view) -> bool:
            user = request.user
            return bool(
                user and user.is_authenticated and user.is_staff and user.has_perms(permissions)
            )

    StaffWith.__name__ = StaffWith.__qualname__ = "StaffWith_" + "_".join(
        permission.replace(".", "_") for permission in permissions
    )
    return StaffWith
