"""``webtext.ahead``: an iterator run ahead in a thread keeps order, stays bounded, raises the producer's error in the
consumer after the items before it, and a consumer that stops early stops the producer and closes its iterator."""

from __future__ import annotations

import threading
import time

import pytest

from webtext.ahead import ahead


def test_every_item_in_order():
    assert list(ahead(range(1000), depth=3)) == list(range(1000))
    assert list(ahead([])) == []


def test_the_producer_runs_at_most_depth_ahead():
    made: list[int] = []

    def items():
        for i in range(100):
            made.append(i)
            yield i

    it = ahead(items(), depth=2)
    assert next(it) == 0
    time.sleep(0.3)  # time for the producer to run as far ahead as it may (a bound, not a timing)
    # the one taken, two queued, and one more made and waiting for a free slot
    assert len(made) <= 4
    assert list(it) == list(range(1, 100))


def test_the_producers_error_comes_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise OSError("truncated file")

    got = []
    with pytest.raises(OSError, match="truncated file"):
        for item in ahead(items()):
            got.append(item)
    assert got == [1, 2]


def test_a_consumer_that_stops_early_closes_the_source_in_the_producer():
    closed = threading.Event()
    threads_before = {t.name for t in threading.enumerate()}

    def items():
        try:
            yield from range(10**9)
        finally:
            closed.set()

    it = ahead(items(), depth=2, name="test-ahead-early-stop")
    assert [next(it) for _ in range(5)] == [0, 1, 2, 3, 4]
    it.close()
    assert closed.wait(5)
    assert "test-ahead-early-stop" not in {t.name for t in threading.enumerate()} - threads_before


def test_an_error_in_the_consumer_stops_the_producer():
    closed = threading.Event()

    def items():
        try:
            yield from range(10**9)
        finally:
            closed.set()

    with pytest.raises(RuntimeError):
        for item in ahead(items()):
            if item == 3:
                raise RuntimeError("the consumer failed")
    assert closed.wait(5)


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="depth"):
        list(ahead([1], depth=0))
