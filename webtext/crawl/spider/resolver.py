"""A DNS resolver that never hands the connection a forbidden address.

The downloader middleware refuses such hosts before a request is sent; this resolver closes the
gap between that check and the connection (a name that re-resolves to 127.0.0.1, "DNS
rebinding"): the address the socket connects to is checked again.
"""

from __future__ import annotations

from typing import Any

from scrapy.resolver import CachingThreadedResolver
from twisted.internet.error import DNSLookupError

from webtext.crawl.safety import BLOCKED_ERROR, AddressPolicy


class SafeResolver(CachingThreadedResolver):
    policy: AddressPolicy = AddressPolicy()

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> SafeResolver:
        resolver = super().from_crawler(crawler, reactor)
        resolver.policy = AddressPolicy.from_cidrs(crawler.settings.getlist("WEBTEXT_ALLOW_NETWORKS"))
        return resolver

    def getHostByName(self, name: str, timeout: Any = ()) -> Any:  # Twisted's method name
        d = super().getHostByName(name, timeout)

        def check(address: str) -> str:
            if not self.policy.permits(address):
                raise DNSLookupError(f"{BLOCKED_ERROR}: {name} -> {address}")
            return address

        return d.addCallback(check)
