from django.core.management.base import BaseCommand, CommandError

from shopops.registry import services


class Command(BaseCommand):
    help = "Train every registered model kind (or those named with --kind) now, in this process."

    def add_arguments(self, parser):
        parser.add_argument("--kind", action="append", default=None, help="A kind to train.")

    def handle(self, *args, **options):
        kinds = options["kind"] or services.trainer_kinds()
        if not kinds:
            self.stdout.write("No model kinds are registered in this installation yet.")
            return
        failed = []
        for kind in kinds:
            try:
                version = services.model_training_run_now(kind=kind)
            except services.UnknownModelKind as error:
                raise CommandError(str(error)) from error
            except services.TrainingInProgress as error:
                self.stdout.write(self.style.WARNING(str(error)))
                continue
            metrics = ", ".join(
                f"{name} {value:.4f}" if isinstance(value, float) else f"{name} {value}"
                for name, value in list(version.metrics.items())[:6]
                if isinstance(value, int | float)
            )
            line = f"{kind} v{version.version}: {version.status}"
            if version.status == version.Status.FAILED:
                failed.append(kind)
                self.stdout.write(self.style.ERROR(f"{line} - {version.error}"))
            else:
                self.stdout.write(f"{line} ({metrics}) gate: {version.gate_reason}")
        if failed:
            raise CommandError(f"Training failed for: {', '.join(failed)}.")
