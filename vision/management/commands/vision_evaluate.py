from django.core.management.base import BaseCommand, CommandError

from vision.management.commands._common import version_pick
from vision.services.evaluation import EvaluationError, folder_evaluate


class Command(BaseCommand):
    help = (
        "Evaluate the active CNN (or --model-version N) on a folder dataset root/<class>/*.jpg: "
        "accuracy and macro-F1, beside the hand-crafted baseline fitted on the CNN's own "
        "training images."
    )

    def add_arguments(self, parser):
        parser.add_argument("--images", required=True, help="Folder dataset root.")
        parser.add_argument(
            "--model-version", type=int, default=None, help="CNN version number (default: active)."
        )
        parser.add_argument(
            "--label-depth",
            type=int,
            default=None,
            help="Class = the first N folders (default: as the model was trained).",
        )
        parser.add_argument("--per-class", action="store_true", help="Also print per-class F1.")

    def handle(self, *args, **options):
        version = version_pick(options["model_version"])
        try:
            result = folder_evaluate(
                version=version, images_dir=options["images"], label_depth=options["label_depth"]
            )
        except EvaluationError as error:
            raise CommandError(str(error)) from error
        cnn, baseline = result["cnn"], result["baseline"]
        self.stdout.write(
            f"cnn v{version.version} on {options['images']}: {result['images']} images, "
            f"{result['classes']} classes ({result['skipped']} unreadable skipped, "
            f"{result['unknown_class_images']} of classes the model does not know)"
        )
        self.stdout.write(f"{'':14}{'accuracy':>10}{'macro-F1':>10}")
        self.stdout.write(f"{'CNN':14}{cnn['accuracy']:>10.4f}{cnn['macro_f1']:>10.4f}")
        self.stdout.write(
            f"{'hand-crafted':14}{baseline['accuracy']:>10.4f}{baseline['macro_f1']:>10.4f}"
        )
        if options["per_class"]:
            for label in cnn["labels"]:
                self.stdout.write(
                    f"  {label:40} F1 CNN {cnn['per_class'][label]['f1']:.3f}  "
                    f"hand-crafted {baseline['per_class'][label]['f1']:.3f}"
                )
