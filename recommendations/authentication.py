"""Token authentication for the recommendation list endpoints, cached briefly in the process.

DRF's :class:`~rest_framework.authentication.TokenAuthentication` reads the token and its
user from the database on every request; on the serving hot path that query costs more than
everything else the request does (see ``bench/serve_recommendations.py`` and
docs/adr/0005-recommendation-serving-cache.md). This subclass keeps, for
:data:`TOKEN_CACHE_SECONDS`, what the list endpoints need of a valid token: the user's id,
flags and customer id, under a sha256 of the key (the key itself is never stored), in the
worker process's memory: a shared cache would add a network round trip and buy nothing, since
the entries may be stale for that long anyway.

The price is a bounded delay: a deleted token, a deactivated user, a change of staff flags or a
customer moved to another user takes up to :data:`TOKEN_CACHE_SECONDS` to show on these
read-only endpoints. Writes (clicks) and every other API keep DRF's uncached authentication.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.authentication import TokenScheme
from rest_framework.authentication import TokenAuthentication

TOKEN_CACHE_SECONDS = 30
TOKEN_CACHE_SIZE = 10_000


class _TimedCache:
    """A small thread-safe LRU whose entries expire (a gthread worker shares it)."""

    def __init__(self, seconds: float, size: int) -> None:
        self.seconds, self.size = seconds, size
        self._entries: OrderedDict[str, tuple[float, dict]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> dict | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def set(self, key: str, value: dict) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + self.seconds, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_tokens = _TimedCache(TOKEN_CACHE_SECONDS, TOKEN_CACHE_SIZE)


@dataclass(frozen=True)
class CachedCredentials:
    """``request.auth`` after :class:`CachedTokenAuthentication`: who the token's customer is."""

    customer_id: int | None


def _cache_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_credentials_cached(*, authorization: str) -> dict | None:
    """What this process remembers of the token in an ``Authorization: Token <key>`` header:
    the user's ``id``, ``is_staff``, ``is_superuser`` and ``customer_id``, without a query.

    None when the header is not a well-formed token header or its lookup is not cached (a
    caller then authenticates the usual way, which caches a valid token).
    """
    parts = authorization.split()
    if len(parts) != 2 or parts[0].lower() != CachedTokenAuthentication.keyword.lower():
        return None
    return _tokens.get(_cache_key(parts[1]))


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str):
        cache_key = _cache_key(key)
        cached = _tokens.get(cache_key)
        if cached is None:
            # One query on a miss: the token, its user and the user's customer, joined.
            user, _token = self._token_user(key)
            try:
                customer_id = user.customer.id
            except ObjectDoesNotExist:
                customer_id = None
            cached = {
                "id": user.pk,
                "username": user.get_username(),
                "is_staff": user.is_staff,
                "is_superuser": user.is_superuser,
                "customer_id": customer_id,
            }
            _tokens.set(cache_key, cached)
        # An unsaved instance with the cached fields: enough for permission checks (which
        # query by id for a non-superuser) and for logging, without reading the row.
        user = get_user_model()(
            pk=cached["id"],
            is_active=True,
            is_staff=cached["is_staff"],
            is_superuser=cached["is_superuser"],
        )
        setattr(user, user.USERNAME_FIELD, cached["username"])
        return user, CachedCredentials(customer_id=cached["customer_id"])

    def _token_user(self, key: str):
        token = (
            self.get_model()
            .objects.select_related("user", "user__customer")
            .filter(key=key)
            .first()
        )
        if token is None or not token.user.is_active:
            # DRF's own check raises its usual message ("Invalid token.", "User inactive ...").
            return super().authenticate_credentials(key)
        return token.user, token


class CachedTokenScheme(TokenScheme):
    """The OpenAPI description: the same ``Authorization: Token <key>`` header as DRF's, under
    its own component name (two classes may not share one)."""

    target_class = "recommendations.authentication.CachedTokenAuthentication"
    name = "cachedTokenAuth"
    match_subclasses = False
    priority = 0
