"""Fixtures for the recommendations tests."""

import pytest

from recommendations import authentication


@pytest.fixture(autouse=True)
def _forget_cached_tokens():
    """The list endpoints keep token lookups in the process: start every test without any."""
    authentication._tokens.clear()
    yield
    authentication._tokens.clear()
