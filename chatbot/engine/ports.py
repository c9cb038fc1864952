"""What the dialogue engine needs from the shop, as plain data and ``typing.Protocol`` ports.

The engine never imports Django: ``chatbot.adapters`` implements these ports on the database,
and the engine tests implement them with in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from chatbot.engine.entities import Vocabulary

# Why a product is suggested; the engine turns a code into a sentence in the customer's language.
REASON_SIMILAR = "similar"
REASON_CHEAPER = "cheaper"
REASON_BOUGHT = "bought"
REASON_SEGMENT = "segment_popular"
REASON_POPULAR = "popular"

# Outcomes of a cancellation request.
CANCELLED = "cancelled"
ALREADY_CANCELLED = "already_cancelled"
NOT_CANCELLABLE = "not_cancellable"


@dataclass(frozen=True)
class ProductInfo:
    """One product as a chat card shows it. ``price`` is a decimal string such as ``"12.50"``."""

    id: int
    name: str
    price: str
    currency: str = "GBP"
    in_stock: bool = True
    # None when the shop does not track this product's stock.
    stock: int | None = None
    url: str = ""
    image_url: str = ""
    category: str = ""
    reason_code: str = ""
    # The product a reason refers to ("because you bought <reason_product>").
    reason_product: str = ""


@dataclass(frozen=True)
class SearchQuery:
    product_ids: Sequence[int] = ()
    categories: Sequence[str] = ()
    # Content words of the message (stop words removed), for a name search.
    keywords: Sequence[str] = ()
    price_min: float | None = None
    price_max: float | None = None
    colours: Sequence[str] = ()
    sizes: Sequence[str] = ()
    limit: int = 5


@dataclass(frozen=True)
class OrderInfo:
    number: str
    status: str
    placed_at: str  # ISO date
    total: str
    currency: str = "GBP"
    item_count: int = 0
    items: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class CancelOutcome:
    outcome: str  # CANCELLED, ALREADY_CANCELLED or NOT_CANCELLABLE
    order: OrderInfo


@dataclass(frozen=True)
class FaqAnswer:
    topic: str
    question: str
    keywords: Sequence[str]
    answer_en: str
    answer_zh: str = ""


class IntentModel(Protocol):
    """The fitted intent classifier (``chatbot.engine.intents.IntentClassifier``).

    A model that also has ``scores(text)`` (as ``IntentClassifier`` does) is asked that
    instead, once per message: the engine needs both methods' answers for one text.
    """

    classes_: Sequence[str]

    def predict_proba(self, texts: Sequence[str]) -> Sequence[Sequence[float]]: ...

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]: ...


class Catalog(Protocol):
    def vocabulary(self) -> Vocabulary:
        """Products (names and synonyms) and categories for entity extraction."""
        ...

    def search(self, query: SearchQuery) -> list[ProductInfo]: ...

    def products(self, ids: Sequence[int]) -> list[ProductInfo]:
        """The active products among ``ids``, in the order given."""
        ...

    def similar(self, product_id: int, *, limit: int = 3) -> list[ProductInfo]:
        """In-stock products like ``product_id``, most similar first."""
        ...

    def cheaper_similar(self, product_id: int, *, limit: int = 3) -> list[ProductInfo]:
        """In-stock products like ``product_id`` that cost less, most similar first."""
        ...


class Recommender(Protocol):
    def recommend(self, *, customer_id: int | None, limit: int = 4) -> list[ProductInfo]:
        """Personal picks for a customer (popular picks when ``None``), each with a reason."""
        ...


class OrderLookup(Protocol):
    """Orders as their owner may see them.

    ``customer_id`` set: only that customer's orders. ``customer_id`` None: the order number
    and the order's email must both match. "Not found" and "not yours" both answer None, so a
    caller can never learn that someone else's order number exists.
    """

    def find(
        self, *, number: str, customer_id: int | None, email: str = ""
    ) -> OrderInfo | None: ...

    def recent(self, *, customer_id: int, limit: int = 3) -> list[OrderInfo]: ...

    def cancel(
        self, *, number: str, customer_id: int | None, email: str = ""
    ) -> CancelOutcome | None: ...


class FaqSource(Protocol):
    def answers(self) -> list[FaqAnswer]:
        """Every published answer, in the merchant's order."""
        ...
