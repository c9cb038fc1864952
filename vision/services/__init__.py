"""Writes and orchestration of the vision app, one module per aggregate (re-exported here)."""

from vision.services.inference import LoadedModel, model_load
from vision.services.search import (
    PhotoRejected,
    PhotoSearchResult,
    PhotoSearchUnavailable,
    photo_search,
    upload_read,
)
from vision.services.suggestions import (
    SuggestionError,
    images_analyse,
    product_image_analyse,
    suggestion_accept,
    suggestion_correct,
    suggestion_dismiss,
)
from vision.services.training import (
    DEFAULT_PARAMS,
    catalog_reindex,
    cnn_gate,
    cnn_on_promote,
    cnn_train,
    cnn_trainer,
)

__all__ = [
    "DEFAULT_PARAMS",
    "LoadedModel",
    "PhotoRejected",
    "PhotoSearchResult",
    "PhotoSearchUnavailable",
    "SuggestionError",
    "catalog_reindex",
    "cnn_gate",
    "cnn_on_promote",
    "cnn_train",
    "cnn_trainer",
    "images_analyse",
    "model_load",
    "photo_search",
    "product_image_analyse",
    "suggestion_accept",
    "suggestion_correct",
    "suggestion_dismiss",
    "upload_read",
]
