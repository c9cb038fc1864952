"""Pure recommendation engine (no Django): recommenders, interaction matrices, evaluation.

Every recommender follows :class:`~recommendations.engine.base.Recommender`; users and items
are integer indices, and the id mapping lives in the Django side of the app.
"""

from .base import NotFittedError, Recommender
from .content import ContentRecommender
from .ease import EASERecommender
from .factorization import ALSRecommender, BPRRecommender
from .hybrid import HybridRecommender, tune_hybrid_weights
from .interactions import EventRows, interaction_matrix
from .neighbourhood import ItemKNNRecommender, UserKNNRecommender
from .popularity import PopularityRecommender

__all__ = [
    "ALSRecommender",
    "BPRRecommender",
    "ContentRecommender",
    "EASERecommender",
    "EventRows",
    "HybridRecommender",
    "ItemKNNRecommender",
    "NotFittedError",
    "PopularityRecommender",
    "Recommender",
    "UserKNNRecommender",
    "interaction_matrix",
    "tune_hybrid_weights",
]
