from django.core.management.base import BaseCommand, CommandError

from mining.selectors.rules import rule_list
from mining.services.rules import DEFAULT_PARAMS, RULES_KIND, rules_params_clean
from shopops.registry import services
from shopops.registry.models import ModelVersion


def _top_count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise CommandError(f"--top must be a whole number from 0 to 1000, got {value!r}.") from None
    if not 0 <= number <= 1000:
        raise CommandError(f"--top must be a whole number from 0 to 1000, got {value!r}.")
    return number


class Command(BaseCommand):
    help = (
        "Mine association rules from the shop's sale orders through the model registry (a new "
        "'rules' version, promoted when its gate passes) and print the top rules by lift."
    )

    def add_arguments(self, parser):
        # Strings, checked by the service, so every bad value gets the same message everywhere.
        parser.add_argument(
            "--min-support",
            default=None,
            help="Share of baskets an itemset must be in "
            f"(default {DEFAULT_PARAMS['min_support']}).",
        )
        parser.add_argument(
            "--min-confidence",
            default=None,
            help=f"Lowest P(consequent | antecedent) (default {DEFAULT_PARAMS['min_confidence']}).",
        )
        parser.add_argument(
            "--max-length",
            default=None,
            help=f"Largest antecedent + consequent size (default {DEFAULT_PARAMS['max_length']}).",
        )
        parser.add_argument(
            "--max-rules",
            default=None,
            help=f"Most rules stored, best by lift (default {DEFAULT_PARAMS['max_rules']}).",
        )
        parser.add_argument("--top", default="10", help="Rules to print (default 10).")

    def handle(self, *args, **options):
        top = _top_count(options["top"])
        given = {
            "min_support": options["min_support"],
            "min_confidence": options["min_confidence"],
            "max_length": options["max_length"],
            "max_rules": options["max_rules"],
        }
        try:
            params = rules_params_clean(given)
        except services.TrainingDataError as error:
            raise CommandError(str(error)) from error
        try:
            version = services.model_training_run_now(kind=RULES_KIND, params=params)
        except services.TrainingInProgress as error:
            raise CommandError(str(error)) from error
        name = f"{RULES_KIND} v{version.version}"
        if version.status == ModelVersion.Status.FAILED:
            raise CommandError(f"{name} failed: {version.error}")

        m = version.metrics
        capped = f", capped from {m['n_rules_mined']:,}" if m.get("rules_capped") else ""
        self.stdout.write(
            f"{name}: {m['n_rules']:,} rules{capped} from {m['n_baskets']:,} baskets and "
            f"{m['n_items']:,} products ({m['n_frequent_itemsets']:,} frequent itemsets) "
            f"in {m['seconds']:.1f} s; support >= {params['min_support']}, confidence >= "
            f"{params['min_confidence']}, length <= {params['max_length']}."
        )
        if version.status == ModelVersion.Status.ACTIVE:
            self.stdout.write(self.style.SUCCESS(f"{name} is now the active rules model."))
        else:
            self.stdout.write(self.style.WARNING(f"{name} was not promoted: {version.gate_reason}"))
        if not m["n_rules"]:
            self.stdout.write("No rule passed the thresholds: lower the support or confidence.")
            return
        if not top:
            return
        self.stdout.write(f"Top {min(top, m['n_rules'])} rules by lift:")
        for position, rule in enumerate(rule_list(version=version)[:top], start=1):
            conviction = "inf" if rule.conviction is None else f"{rule.conviction:.2f}"
            self.stdout.write(
                f"{position:>3}. {rule.antecedent_label} -> {rule.consequent.name}  "
                f"support {rule.support:.4f}  confidence {rule.confidence:.3f}  "
                f"lift {rule.lift:.2f}  conviction {conviction}"
            )
