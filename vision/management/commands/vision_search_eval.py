from django.core.management.base import BaseCommand, CommandError

from vision.management.commands._common import version_pick
from vision.services.evaluation import EvaluationError, folder_search_evaluate


class Command(BaseCommand):
    help = (
        "Search-by-photo recall: index the catalogue photos (one folder per product, nested "
        "folders allowed) and report recall@1/@5 of the query photos (the same folder names), "
        "with the active CNN's embeddings (or --model-version N) beside hand-crafted features."
    )

    def add_arguments(self, parser):
        parser.add_argument("--catalog", required=True, help="Catalogue root: <product>/*.jpg")
        parser.add_argument("--queries", required=True, help="Query root: <product>/*.jpg")
        parser.add_argument(
            "--match-by",
            choices=["path", "leaf"],
            default="path",
            help="Product = folder path under the root (default) or the folder's own name.",
        )
        parser.add_argument(
            "--model-version", type=int, default=None, help="CNN version number (default: active)."
        )

    def handle(self, *args, **options):
        version = version_pick(options["model_version"])
        try:
            result = folder_search_evaluate(
                version=version,
                catalog_dir=options["catalog"],
                queries_dir=options["queries"],
                match_by=options["match_by"],
            )
        except EvaluationError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"cnn v{version.version}: {result['catalog_images']} catalogue images of "
            f"{result['products']} products, {result['queries']} queries "
            f"({result['queries_without_product']} without a catalogue product skipped)"
        )
        self.stdout.write(f"{'':14}{'recall@1':>10}{'recall@5':>10}")
        for name, label in (("cnn", "CNN"), ("handcrafted", "hand-crafted")):
            row = result[name]
            self.stdout.write(f"{label:14}{row['recall@1']:>10.4f}{row['recall@5']:>10.4f}")
