"""The per-client limits' pure parts (#12): token buckets on an injected clock, websocket slots,
who the client is behind (or without) a trusted proxy. No sleeps: the clock is moved by hand."""

from __future__ import annotations

import pytest

from api.client_ip import TrustedProxies, limit_key, parse_networks
from api.rate_limit import RateLimiter
from api.ws_slots import ConnectionSlots
from config.settings import load_settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_the_rate_and_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(2.0, 5, clock=clock)
    assert [limiter.take("a") for _ in range(5)] == [0.0] * 5
    assert limiter.take("a") == pytest.approx(0.5)  # one token every 0.5 s
    assert limiter.take("a") == pytest.approx(0.5)  # a refusal spends nothing
    assert limiter.take("b") == 0.0  # another client has its own bucket
    clock.now += 0.25
    assert limiter.take("a") == pytest.approx(0.25)
    clock.now += 0.25
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == pytest.approx(0.5)
    clock.now += 3600  # idle: refilled to the burst, never beyond
    assert [limiter.take("a") for _ in range(5)] == [0.0] * 5
    assert limiter.take("a") > 0


def test_a_clock_going_backwards_adds_no_tokens() -> None:
    clock = Clock()
    limiter = RateLimiter(1.0, 1, clock=clock)
    assert limiter.take("a") == 0.0
    clock.now -= 50
    assert limiter.take("a") == pytest.approx(1.0)


def test_rate_zero_is_no_limit() -> None:
    limiter = RateLimiter(0, 1, clock=Clock())
    assert not limiter.enabled
    assert all(limiter.take("a") == 0.0 for _ in range(10_000))
    assert len(limiter) == 0


def test_buckets_are_bounded_least_recently_used_dropped_first() -> None:
    clock = Clock()
    limiter = RateLimiter(1.0, 1, clock=clock, max_clients=3)
    for key in ("a", "b", "c"):
        assert limiter.take(key) == 0.0
    assert limiter.take("a") > 0  # a is now the most recently used
    assert limiter.take("d") == 0.0  # b (least recently used) goes
    assert len(limiter) == 3
    assert limiter.take("a") > 0 and limiter.take("c") > 0  # still remembered
    assert limiter.take("b") == 0.0  # forgotten: a fresh bucket


def test_websocket_slots_per_client_and_in_total_are_given_back() -> None:
    slots = ConnectionSlots(per_client=2, total=3)
    assert slots.acquire("a") is None and slots.acquire("a") is None
    refused = slots.acquire("a")
    assert refused is not None and "at most 2 websockets per client" in refused
    assert slots.acquire("b") is None
    refused = slots.acquire("c")
    assert refused is not None and "limit of 3 websockets" in refused
    assert slots.open == 3 and slots.open_for("a") == 2
    for key in ("a", "a", "b"):
        slots.release(key)
    assert slots.open == 0 and slots.open_for("a") == 0
    assert slots._open == {}  # a client with nothing open is forgotten
    assert slots.acquire("c") is None
    with pytest.raises(ValueError):
        slots.release("nobody")


def test_x_forwarded_for_is_ignored_without_a_trusted_proxy() -> None:
    none = TrustedProxies()
    assert none.client("127.0.0.1", "10.9.9.9") == "127.0.0.1"
    assert none.client("203.0.113.7", "10.9.9.9, 127.0.0.1") == "203.0.113.7"
    assert none.client(None, "10.9.9.9") == "unknown"


def test_x_forwarded_for_from_a_trusted_proxy_names_the_right_most_untrusted_hop() -> None:
    proxies = TrustedProxies(parse_networks(["10.0.0.0/8", "::1"]))
    # the client may put anything left of its own address; the proxy appends the real peer
    assert proxies.client("10.0.0.5", "6.6.6.6, 198.51.100.4") == "198.51.100.4"
    assert proxies.client("10.0.0.5", "198.51.100.4, 10.0.0.9") == "198.51.100.4"
    assert proxies.client("::1", "2001:db8::1") == "2001:db8::1"
    assert proxies.client("10.0.0.5", None) == "10.0.0.5"  # the proxy itself
    assert proxies.client("10.0.0.5", "10.0.0.7, 10.0.0.6") == "10.0.0.7"
    assert proxies.client("10.0.0.5", "junk") == "10.0.0.5"
    assert proxies.client("10.0.0.5", "198.51.100.4, junk") == "10.0.0.5"
    # a peer that is not a trusted proxy cannot choose its address
    assert proxies.client("203.0.113.7", "198.51.100.4") == "203.0.113.7"


def test_limit_keys_group_an_ipv6_host_by_its_64() -> None:
    assert limit_key("198.51.100.4") == "198.51.100.4"
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2:ffff::9")
    assert limit_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")
    assert limit_key("::ffff:198.51.100.4") == "198.51.100.4"
    assert limit_key("testclient") == "testclient"


def test_a_bad_trusted_proxy_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="HEDGER_API_TRUSTED_PROXIES"):
        load_settings(api_trusted_proxies="10.0.0.0/8,not-an-ip")
    with pytest.raises(ValueError, match="not an IP"):
        parse_networks(["bad"])


def test_the_defaults_never_refuse_a_busy_symmio_front_end() -> None:
    """Four tabs behind one address, each with 6 websockets (reconnecting every minute) and 12
    polled endpoints every 2 s, for an hour, on the default limits."""
    settings = load_settings()
    clock = Clock()
    limiter = RateLimiter(settings.api_requests_per_second, settings.api_request_burst, clock=clock)
    slots = ConnectionSlots(settings.api_max_ws_per_client, settings.api_max_ws_total)
    tabs, sockets, polled = 4, 6, 12
    for _ in range(tabs * sockets):
        assert limiter.take("user") == 0.0 and slots.acquire("user") is None
    for tick in range(1, 1800):
        clock.now += 2
        for _ in range(tabs * polled):
            assert limiter.take("user") == 0.0, tick
        if tick % 30 == 0:  # every socket drops and reconnects
            for _ in range(tabs * sockets):
                slots.release("user")
                assert limiter.take("user") == 0.0 and slots.acquire("user") is None
