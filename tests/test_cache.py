import os

import pytest

from shopops.cache import PooledRedisCache


@pytest.fixture
def redis_cache():
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set: the embedded default uses the local-memory cache")
    cache = PooledRedisCache(url, {"KEY_PREFIX": "test-pooled-cache"})
    yield cache
    cache.delete_many(["basket", "counter"])


def test_the_redis_cache_builds_one_client_and_reuses_it(redis_cache):
    # when
    first = redis_cache._cache.get_client()
    second = redis_cache._cache.get_client(write=True)

    # then
    assert first is second


def test_the_redis_cache_reads_back_what_it_wrote(redis_cache):
    redis_cache.set("basket", {"product_ids": [3, 1, 2]}, timeout=60)
    redis_cache.set("counter", 1, timeout=60)
    redis_cache.incr("counter", 4)

    assert redis_cache.get_many(["basket", "counter", "missing"]) == {
        "basket": {"product_ids": [3, 1, 2]},
        "counter": 5,
    }


def test_the_redis_cache_tells_counters_from_pickles_by_their_first_byte(redis_cache):
    values = {"basket": b"\x80 is not a pickle prefix here", "counter": -12}
    redis_cache.set_many(values, timeout=60)
    redis_cache.incr("counter", 2)

    assert redis_cache.get_many(["basket", "counter"]) == {**values, "counter": -10}


def test_get_many_keeps_one_connection_and_survives_losing_it(redis_cache):
    redis_cache.set_many({"basket": [1], "counter": 2}, timeout=60)
    client = redis_cache._cache
    assert redis_cache.get_many(["basket", "counter"]) == {"basket": [1], "counter": 2}
    kept = client._read_connection
    assert redis_cache.get_many(["counter"]) == {"counter": 2}
    assert client._read_connection is kept

    # when: the server drops the kept connection (a restart, an idle timeout)
    host, port = kept._sock.getsockname()[:2]
    assert client.get_client(write=True).client_kill_filter(_type=None, addr=f"{host}:{port}") == 1

    # then: the next read still answers (the ordinary way) and a new connection is kept
    assert redis_cache.get_many(["basket", "counter"]) == {"basket": [1], "counter": 2}
    assert redis_cache.get_many(["basket"]) == {"basket": [1]}
    assert client._read_connection is not None
    assert client._read_connection is not kept


def test_a_forked_process_does_not_read_on_its_parents_kept_connection(redis_cache):
    redis_cache.set("counter", 3, timeout=60)
    client = redis_cache._cache
    redis_cache.get_many(["counter"])
    parents = client._read_connection
    client._read_connection_pid = -1  # as a forked child sees it: another process's socket

    assert redis_cache.get_many(["counter"]) == {"counter": 3}
    assert client._read_connection is not parents
