import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from shopops.store.models import Customer


class Command(BaseCommand):
    help = (
        "Create (or reset) the demo's staff login and a demo customer login, and print them. "
        "Passwords are random on every run unless --password is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("--password", default=None, help="Use this password for both logins.")

    @transaction.atomic
    def handle(self, *args, **options):
        user_model = get_user_model()
        staff_password = options["password"] or secrets.token_urlsafe(9)
        staff, _ = user_model.objects.get_or_create(
            username="merchant", defaults={"email": "merchant@demo.shopops.test"}
        )
        staff.is_staff = True
        staff.is_superuser = True
        staff.set_password(staff_password)
        staff.save()

        customer_password = options["password"] or secrets.token_urlsafe(9)
        customer_user, _ = user_model.objects.get_or_create(
            username="customer", defaults={"email": "customer@demo.shopops.test"}
        )
        customer_user.is_staff = False
        customer_user.set_password(customer_password)
        customer_user.save()
        # Link the login to the demo customer with the most orders, so "my orders" has content.
        linked = Customer.objects.filter(user=customer_user).first()
        if linked is None:
            candidate = (
                Customer.objects.filter(user__isnull=True, external_id__startswith="DEMO-C")
                .order_by("-first_seen_at")
                .first()
            )
            if candidate is not None:
                candidate.user = customer_user
                candidate.save(update_fields=["user"])
                linked = candidate

        self.stdout.write(
            self.style.SUCCESS(
                "Demo logins (the dashboard is /dashboard/ on the server started below):"
            )
        )
        self.stdout.write(f"  staff:    username merchant   password {staff_password}")
        self.stdout.write(
            f"  customer: username customer   password {customer_password}"
            + (f"   (customer {linked.external_id})" if linked else "")
        )
