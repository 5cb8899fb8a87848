"""The crawler's address policy and small helpers, without a crawl."""

from __future__ import annotations

import pytest

from webtext.crawl.safety import BLOCKED_ERROR, AddressPolicy, BlockedAddressError, resolve


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "2130706433", "0x7f000001", "127.1", "0177.0.0.1", "::1", "::ffff:127.0.0.1", "localhost",
     "10.1.2.3", "172.16.5.4", "192.168.0.1", "169.254.169.254", "100.64.0.1", "224.0.0.1", "0.0.0.0",
     "240.0.0.1", "255.255.255.255", "fe80::1", "fc00::1", "192.0.2.1", "198.18.0.1", "::ffff:10.0.0.1"],
)
def test_private_and_numeric_tricks_are_refused(host):
    addresses = resolve(host)
    with pytest.raises(BlockedAddressError, match=BLOCKED_ERROR):
        AddressPolicy().check(addresses)


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    AddressPolicy().check([address])


def test_allow_network_opens_exactly_that_network():
    policy = AddressPolicy.from_cidrs(["127.0.0.0/8"])
    assert policy.permits("127.0.0.5") and policy.permits("::ffff:127.0.0.9")
    assert not policy.permits("10.0.0.1") and not policy.permits("169.254.169.254") and not policy.permits("::1")
    with pytest.raises(BlockedAddressError):
        policy.check(["127.0.0.1", "10.0.0.1"])  # one bad address among several is enough
    with pytest.raises(BlockedAddressError):
        policy.check([])


def test_retry_after_header_forms():
    from webtext.crawl.spider.middlewares import BackoffRetryMiddleware

    assert BackoffRetryMiddleware.retry_after(b"3") == 3.0
    assert BackoffRetryMiddleware.retry_after(None) is None
    assert BackoffRetryMiddleware.retry_after(b"soon") is None
    assert BackoffRetryMiddleware.retry_after(b"Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


def test_crawl_config_errors_name_the_key(tmp_path):
    from webtext.config import from_mapping
    from webtext.crawl.config import CrawlConfig
    from webtext.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        from_mapping(CrawlConfig, {"inputs": ["x"], "allow_network": ["not-a-net"]}, "stages.crawl")
    assert err.value.key == "stages.crawl.allow_network[0]"
    with pytest.raises(ConfigError) as err:
        from_mapping(CrawlConfig, {"inputs": ["x"], "partitions": 0}, "stages.crawl")
    assert err.value.key == "stages.crawl.partitions"


def test_resume_point_after_a_machine_crash_forgets_rows_past_the_warc_end(tmp_path):
    import pyarrow as pa

    from webtext.crawl.crawl_stage import _resume_point
    from webtext.data import read_parquet, write_parquet

    chunks = tmp_path / "chunks"
    warc = tmp_path / "part-00000.warc.gz"
    warc.write_bytes(b"x" * 150)  # the disk kept 150 bytes; the log says records end at 100 and 200
    rows = [
        {"url": "http://a/1", "warc_offset": 0, "warc_length": 100},
        {"url": "http://a/2", "warc_offset": 100, "warc_length": 100},
        {"url": "http://a/3", "warc_offset": None, "warc_length": None},  # an error row: nothing stored
    ]
    write_parquet(chunks / "chunk-000000.parquet", pa.Table.from_pylist(rows))
    assert _resume_point(chunks, warc) == 2
    assert warc.stat().st_size == 100
    assert sorted(read_parquet(chunks / "done.parquet")["url"].to_pylist()) == ["http://a/1", "http://a/3"]
    warc.write_bytes(b"x" * 100 + b"torn")  # a killed process: a torn tail after the last record
    assert _resume_point(chunks, warc) == 2 and warc.stat().st_size == 100
