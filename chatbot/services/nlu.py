"""The process-wide dialogue engine: the active intent model plus the catalogue vocabulary.

Loading a model or reading the whole catalogue per message would blow the chat's latency
budget, so both are held in memory here. A message checks the active "intent" version id
(a cache read, no query when warm) and reloads only when it changed; the catalogue
vocabulary is re-read every ``CHAT_VOCABULARY_REFRESH_SECONDS``.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings

from chatbot.adapters import DbCatalog, DbFaq, DbOrders, DbRecommender
from chatbot.engine.dialogue import DialogueEngine
from chatbot.engine.intents import IntentClassifier
from chatbot.engine.tokenize import segmenter_load
from chatbot.selectors.training import intent_file_examples
from chatbot.services.training import ARTIFACT_NAME, KIND
from shopops.registry.models import ModelVersion
from shopops.registry.services import (
    ArtifactIntegrityError,
    active_model_version_id,
    model_version_artifact_verify,
)

logger = logging.getLogger(__name__)

_FILE_MODEL = 0  # "version id" of the classifier trained from the repository file

_lock = threading.Lock()
_engine: DialogueEngine | None = None
_model_id: int | None = None
_vocabulary_at = 0.0


def intents_file_classifier() -> IntentClassifier:
    """A classifier trained on the repository's bilingual file (no active version yet)."""
    examples = intent_file_examples()
    return IntentClassifier().fit([e.text for e in examples], [e.intent for e in examples])


def _version_classifier(version_id: int) -> IntentClassifier | None:
    version = ModelVersion.objects.filter(id=version_id).first()
    if version is None:
        return None
    try:
        directory = model_version_artifact_verify(version=version)
        return IntentClassifier.load(directory / ARTIFACT_NAME)
    except (ArtifactIntegrityError, OSError, KeyError, ValueError):
        logger.exception("cannot load intent model v%s; keeping the previous one", version_id)
        return None


def nlu_engine() -> DialogueEngine:
    """The engine for this process, reloaded when the active intent version changes."""
    global _engine, _model_id, _vocabulary_at
    wanted = active_model_version_id(kind=KIND) or _FILE_MODEL
    refresh = settings.CHAT_VOCABULARY_REFRESH_SECONDS
    stale_vocabulary = time.monotonic() - _vocabulary_at > refresh
    if _engine is not None and wanted == _model_id and not stale_vocabulary:
        _engine.threshold = settings.CHAT_CONFIDENCE_THRESHOLD
        return _engine
    with _lock:
        engine = _engine
        if engine is None or wanted != _model_id:
            classifier = _version_classifier(wanted) if wanted != _FILE_MODEL else None
            if classifier is None and engine is not None and _model_id != _FILE_MODEL:
                classifier = engine.classifier  # a broken new artifact keeps the old model
            if classifier is None:
                classifier = intents_file_classifier()
            segmenter_load()  # with the rest of the engine's one-off cost, not mid-chat
            catalog = DbCatalog()
            engine = DialogueEngine(
                classifier=classifier,
                catalog=catalog,
                orders=DbOrders(),
                faq=DbFaq(),
                recommender=DbRecommender(catalog=catalog),
                threshold=settings.CHAT_CONFIDENCE_THRESHOLD,
            )
            stale_vocabulary = True
        if stale_vocabulary:
            engine.vocabulary_set(engine.catalog.vocabulary())
            _vocabulary_at = time.monotonic()
        _engine, _model_id = engine, wanted
    return engine


def nlu_engine_reset() -> None:
    """Forget the engine so the next message rebuilds it (tests; after a catalogue import)."""
    global _engine, _model_id, _vocabulary_at
    with _lock:
        _engine, _model_id, _vocabulary_at = None, None, 0.0


def nlu_vocabulary_refresh() -> None:
    """Re-read the catalogue vocabulary on the next message (keeps the trained model)."""
    global _vocabulary_at
    _vocabulary_at = 0.0
