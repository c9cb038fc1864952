"""Compare every recommender offline and print one table.

    manage.py evaluate_recommenders [--from-file PATH --format online-retail|movielens]
        [--split temporal|random] [--test-fraction 0.2] [--k 10]

By default on the shop's own interactions (orders and behaviour events); with ``--from-file``
on a public data set (see ``recommendations.engine.datasets``). ``temporal`` holds out the
last part of the time span; ``random`` holds out a share of each customer's items.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from recommendations import selectors
from recommendations.engine import HybridRecommender, interaction_matrix
from recommendations.engine.datasets import load_movielens, load_online_retail
from recommendations.engine.evaluation import (
    evaluate,
    format_table,
    random_split_per_user,
    temporal_split,
)
from recommendations.services import EASE_MAX_ITEMS, recommender_candidates

LOADERS = {"online-retail": load_online_retail, "movielens": load_movielens}


class Command(BaseCommand):
    help = "Evaluate every recommender on the shop's data or a file and print one table."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--from-file", type=Path)
        parser.add_argument("--format", choices=sorted(LOADERS), default="online-retail")
        parser.add_argument("--split", choices=["temporal", "random"], default="temporal")
        parser.add_argument("--test-fraction", type=float, default=0.2)
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **options: Any) -> None:
        k, fraction = options["k"], options["test_fraction"]
        if not 0 < fraction < 1:
            raise CommandError("--test-fraction must be between 0 and 1.")
        if options["from_file"] is not None:
            path = options["from_file"]
            if not path.exists():
                raise CommandError(f"{path} does not exist.")
            rows, users, items, texts = LOADERS[options["format"]](path)
            shape = (len(users), len(items))
            features: list[Any] = texts
            source = f"{path.name} ({options['format']})"
        else:
            data = selectors.interaction_data_get()
            rows = data.rows
            shape = (len(data.customer_ids), len(data.product_ids))
            features = data.product_features
            source = "the shop's orders and events"
        if len(rows) == 0:
            raise CommandError("There are no interactions to evaluate on.")
        size = {"n_users": shape[0], "n_items": shape[1]}
        if options["split"] == "temporal":
            split = temporal_split(rows, fraction)
            train = interaction_matrix(split.train, **size, transform="log1p")
            test = interaction_matrix(split.test, **size)
        else:
            full = interaction_matrix(rows, **size, transform="log1p")
            train, test = random_split_per_user(full, fraction, random_state=options["seed"])
        recommenders = recommender_candidates(shape[1], options["seed"])
        # An untuned equal-weight blend: tuning needs a validation period this command keeps
        # out of the test (the trainer tunes; see recommendations.services).
        recommenders["hybrid"] = HybridRecommender(list(recommenders.items()))
        try:
            table = evaluate(recommenders, train, test, k, item_features=features)
        except ValueError as error:
            raise CommandError(str(error)) from error
        ease = "" if shape[1] <= EASE_MAX_ITEMS else f" (EASE skipped: over {EASE_MAX_ITEMS})"
        self.stdout.write(
            f"{source}: {len(rows):,} rows, {shape[0]:,} users, {shape[1]:,} items; "
            f"{options['split']} split, test fraction {fraction}, "
            f"{table[0]['users']:,} test users{ease}"
        )
        self.stdout.write(format_table(table, k))
