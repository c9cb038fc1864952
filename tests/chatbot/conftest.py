"""Fixtures shared by the chatbot's websocket and browser tests."""

from decimal import Decimal

import pytest

from chatbot.services import nlu
from tests.factories import CategoryFactory, ProductFactory


@pytest.fixture
def mugs(transactional_db):
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen")
    products = [
        ProductFactory(name="Blue Ceramic Mug", price=Decimal("12.50"), category=kitchen),
        ProductFactory(name="Red Ceramic Mug", price=Decimal("9.00"), category=kitchen),
    ]
    # The engine is built once per process and keeps the catalogue's words for minutes: make it
    # learn these products now, and build it here rather than inside the first chat turn.
    nlu.nlu_vocabulary_refresh()
    nlu.nlu_engine()
    return products
