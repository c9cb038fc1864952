from django.core.management.base import BaseCommand, CommandError

from shopops.registry import services as registry
from vision.selectors import KIND


class Command(BaseCommand):
    help = (
        "Train the product-photo CNN and register it (with the hand-crafted baseline's figures). "
        "Default: the shop's product images by category; --images DIR trains on a folder "
        "dataset root/<class>/*.jpg instead (registered for evaluation, never promoted)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--images", default="", help="Folder dataset root (default: the shop).")
        parser.add_argument("--epochs", type=int, default=None)
        parser.add_argument(
            "--label-depth",
            type=int,
            default=None,
            help="Class = the first N folders under the root (default: the image's own folder; "
            "Grocery Store coarse classes: 2).",
        )
        parser.add_argument("--image-size", type=int, default=None)
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--width", type=int, default=None)
        parser.add_argument("--lr", type=float, default=None)
        parser.add_argument("--patience", type=int, default=None)
        parser.add_argument("--device", default=None, help="auto (default), cpu or cuda")
        parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")

    def handle(self, *args, **options):
        params = {
            name: options[option]
            for name, option in (
                ("epochs", "epochs"),
                ("label_depth", "label_depth"),
                ("image_size", "image_size"),
                ("batch_size", "batch_size"),
                ("width", "width"),
                ("lr", "lr"),
                ("patience", "patience"),
                ("device", "device"),
                ("num_threads", "threads"),
            )
            if options[option] is not None
        }
        if options["images"]:
            params["images_dir"] = options["images"]
        try:
            version = registry.model_training_run_now(kind=KIND, params=params)
        except registry.TrainingInProgress as error:
            raise CommandError(str(error)) from error
        if version.status == version.Status.FAILED:
            raise CommandError(f"cnn v{version.version} failed: {version.error}")
        m = version.metrics
        self.stdout.write(
            f"cnn v{version.version}: {version.status} ({m['source']} data, {m['n_classes']} "
            f"classes, {m['n_train']} train / {m['n_validation']} validation images, "
            f"{m['epochs_run']} epochs in {m['fit_seconds']:.1f} s)"
        )
        self.stdout.write(
            f"  validation accuracy  CNN {m['val_accuracy']:.4f}   "
            f"hand-crafted {m['baseline_accuracy']:.4f}"
        )
        self.stdout.write(
            f"  validation macro-F1  CNN {m['macro_f1']:.4f}   "
            f"hand-crafted {m['baseline_macro_f1']:.4f}"
        )
        self.stdout.write(f"  gate: {version.gate_reason}")
