"""Importers that load real transaction files into the shop's tables."""

from shopops.store.importers.online_retail import (
    FILE_FORMATS,
    ImportCounts,
    ImportFileError,
    ImportProgress,
    transactions_import,
)

__all__ = [
    "FILE_FORMATS",
    "ImportCounts",
    "ImportFileError",
    "ImportProgress",
    "transactions_import",
]
