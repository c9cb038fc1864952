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

Together the last two take a five-key ``get_many`` from about 123 to 96 us of CPU.
"""

import pickle
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
        if type(self._serializer) is RedisSerializer:  # not a serializer set in OPTIONS
            self._serializer = PooledRedisSerializer(self._serializer.protocol)
        self._clients: dict[int, Any] = {}

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
