"""Which addresses the crawler may connect to.

Links come from strangers: a URL (or a redirect, or a DNS answer) may point at the crawling
machine itself, its private network or a cloud metadata service. Every host is resolved the way
the operating system would resolve it — which also turns numeric tricks such as
``http://2130706433/``, ``http://0x7f000001/`` or ``http://127.1/`` into 127.0.0.1 — and the
request is refused if *any* of its addresses is private, loopback, link-local, CGNAT,
multicast, reserved or unspecified, unless it lies in a network the operator opened explicitly
(``--allow-network 127.0.0.0/8`` for tests and the demo).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Ranges never crawled unless allowed; ``ipaddress``'s flags cover most, these make it explicit.
BLOCKED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
        "::/128", "::1/128", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
        "2002::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
)

BLOCKED_ERROR = "blocked:private_address"


class BlockedAddressError(Exception):
    """The URL's host is, or resolves to, an address the crawler must not reach."""


def _unwrap(address: IPAddress) -> IPAddress:
    """IPv4 behind IPv6 forms (``::ffff:127.0.0.1``, 6to4, Teredo) is judged as that IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address.teredo is not None:
            return address.teredo[1]
    return address


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses are allowed; blocked ranges only where ``allowed`` opens them."""

    allowed: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_cidrs(cls, cidrs: Iterable[str]) -> AddressPolicy:
        return cls(tuple(ipaddress.ip_network(c, strict=False) for c in cidrs))

    def permits(self, address: IPAddress | str) -> bool:
        text = str(address).split("%", 1)[0]  # drop an IPv6 zone index
        candidate = _unwrap(ipaddress.ip_address(text))
        if any(candidate in net for net in self.allowed if net.version == candidate.version):
            return True
        if candidate.is_multicast or not candidate.is_global:
            return False
        return not any(candidate in net for net in BLOCKED_NETWORKS if net.version == candidate.version)

    def check(self, addresses: Sequence[str]) -> None:
        """Raise BlockedAddressError unless every address is permitted (and there is at least one)."""
        if not addresses:
            raise BlockedAddressError("the host resolves to no address")
        for a in addresses:
            if not self.permits(a):
                raise BlockedAddressError(f"{BLOCKED_ERROR}: {a}")


def resolve(host: str, port: int | None = None) -> list[str]:
    """Every address ``host`` resolves to, as the OS resolver (and so the connection) sees it.

    Numeric forms the C library accepts (``2130706433``, ``0x7f000001``, ``127.1``) come back as
    the address they denote. Raises OSError (socket.gaierror) if the name does not resolve.
    """
    host = host.strip("[]")
    infos = socket.getaddrinfo(host, port or 80, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})
