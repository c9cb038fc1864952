"""Django's Redis cache backend, made cheaper per call for the serving hot paths.

- Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` object on every cache
  call (a response-callback table of ~170 entries each time). On the recommendations endpoint,
  whose warm path is one ``get_many``, that was about an eighth of the request's CPU (profiled
  with bench/serve_recommendations.py's in-process setup). A ``redis.Redis`` sharing a
  connection pool is safe to use from several threads, so one per pool serves every call.
- Django checks every key for memcached portability (length, control characters) and warns;
  Redis takes any key, so the check is skipped.
- Django's serializer tries ``int()`` on every value before unpickling it (integers are stored
  as digits so that ``incr`` works), paying a raised ValueError per pickled value; pickles start
  with their PROTO opcode, so the first byte tells which it is.

- ``get_many`` runs on a connection the client keeps (see its docstring).

Together the last two take a five-key ``get_many`` from about 123 to 96 us of CPU.
"""

import os
import pickle
import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient, RedisSerializer

_PICKLE_PROTO = b"\x80"


class PooledRedisSerializer(RedisSerializer):
    def loads(self, data: bytes) -> Any:
        if data[:1] == _PICKLE_PROTO:
            return pickle.loads(data)  # noqa: S301 - written by this cache's dumps
        return int(data)


class PooledRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_connection: Any = None
        self._read_connection_pid = 0
        self._read_lock = threading.Lock()
        if type(self._serializer) is RedisSerializer:  # not a serializer set in OPTIONS
            self._serializer = PooledRedisSerializer(self._serializer.protocol)
        self._clients: dict[int, Any] = {}

    def get_many(self, keys: Any) -> dict[Any, Any]:
        """One ``MGET`` on a connection this client keeps, without checking one out of the
        pool and back in and without redis-py's per-command wrappers: the serving hot paths'
        one round trip costs about 35 us less CPU. Django gives each thread its own backend;
        the lock covers callers that share one anyway (they take the ordinary path). Any error
        drops the kept connection and answers the ordinary way, with redis-py's retries."""
        keys = list(keys)
        if not keys or not self._read_lock.acquire(blocking=False):
            return super().get_many(keys)
        try:
            values = self._kept_connection_mget(keys)
        finally:
            self._read_lock.release()
        if values is None:
            return super().get_many(keys)
        loads = self._serializer.loads
        return {
            key: loads(value) for key, value in zip(keys, values, strict=True) if value is not None
        }

    def _kept_connection_mget(self, keys: list[Any]) -> list[Any] | None:
        connection = self._read_connection
        if connection is None or self._read_connection_pid != os.getpid():
            # A forked child must not talk on its parent's socket: it takes its own.
            connection = self._read_connection = self._get_connection_pool(False).get_connection()
            self._read_connection_pid = os.getpid()
        try:
            connection.send_command("MGET", *keys)
            return connection.read_response()
        except Exception:  # noqa: BLE001 - any failure: forget the connection, go the usual way
            self._read_connection = None
            connection.disconnect()
            return None

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


class PooledRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = PooledRedisCacheClient

    def validate_key(self, key: str) -> None:
        """Redis accepts any key: no memcached portability warnings."""
