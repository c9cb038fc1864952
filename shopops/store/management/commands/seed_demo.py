import time
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from shopops.store.demo import demo_data_delete, demo_data_exists, demo_shop_generate


class Command(BaseCommand):
    help = "Generate a synthetic demo shop (deterministic for a given --seed and --end-date)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--end-date",
            type=date.fromisoformat,
            default=None,
            help="Last day of order history, YYYY-MM-DD (default: today).",
        )
        parser.add_argument("--months", type=int, default=18)
        parser.add_argument("--customers", type=int, default=1200)
        parser.add_argument("--products-per-category", type=int, default=20)
        parser.add_argument(
            "--no-images", action="store_true", help="Skip generated product images."
        )
        parser.add_argument(
            "--reset", action="store_true", help="Delete existing demo data and generate it again."
        )

    def handle(self, *args, **options):
        if (
            options["months"] < 1
            or options["customers"] < 1
            or options["products_per_category"] < 1
        ):
            raise CommandError(
                "--months, --customers and --products-per-category must be at least 1."
            )
        if demo_data_exists():
            if not options["reset"]:
                self.stdout.write("Demo data is already present; use --reset to generate it again.")
                return
            demo_data_delete()
        started = time.monotonic()
        summary = demo_shop_generate(
            seed=options["seed"],
            end_date=options["end_date"] or date.today(),  # noqa: DTZ011 - a calendar day
            months=options["months"],
            customers=options["customers"],
            products_per_category=options["products_per_category"],
            with_images=not options["no_images"],
        )
        groups = ", ".join(f"{name} {count}" for name, count in sorted(summary.groups.items()))
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo shop generated in {time.monotonic() - started:.1f}s: "
                f"{summary.categories} categories, {summary.products} products "
                f"({summary.images} images), {summary.customers} customers ({groups}), "
                f"{summary.orders} orders ({summary.returns} returns, "
                f"{summary.guest_orders} guest), "
                f"{summary.items} items, {summary.events} events."
            )
        )
