"""Who a request comes from, for the per-client limits (`api.throttle`).

The client is the peer of the TCP connection. `X-Forwarded-For` is believed only when that peer
is a configured trusted proxy (`HEDGER_API_TRUSTED_PROXIES`): then the client is the right-most
address in the header that is not itself a trusted proxy (entries left of it are whatever the
client chose to send). With no trusted proxy configured the header is ignored, whoever sends it.

Limits are kept per key: an IPv4 address, or the /64 network of an IPv6 address (one host
usually holds a whole /64, and could otherwise rotate through it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> list[IPNetwork]:
    """IP addresses or CIDR networks (`10.0.0.0/8`); a ValueError names a bad entry."""
    networks: list[IPNetwork] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or network: {entry!r}") from None
    return networks


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


class TrustedProxies:
    def __init__(self, networks: Iterable[IPNetwork] = ()) -> None:
        self.networks = list(networks)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: IPAddress | None) -> bool:
        return address is not None and any(address in n for n in self.networks)

    def client(self, peer: str | None, forwarded_for: str | None) -> str:
        """The client's address: `peer`, or from `forwarded_for` when `peer` is trusted."""
        host = peer or "unknown"
        if not self.networks or forwarded_for is None or not self.trusts(_address(host)):
            return host
        for hop in reversed(forwarded_for.split(",")):
            address = _address(hop)
            if address is None:
                return host  # garbage: the last trusted hop is all we know
            host = str(address)
            if not self.trusts(address):
                return host
        return host  # every hop was a proxy of ours: the left-most one


def limit_key(host: str) -> str:
    """The key limits are counted under: the IPv4 address, or the IPv6 address's /64."""
    address = _address(host)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address) if address is not None else host
