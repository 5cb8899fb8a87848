"""The in-process runner: shards one after another, same per-shard code as on Ray."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from webtext.errors import FatalError, RetryableError, WebtextError
from webtext.logs import progress
from webtext.runner.base import ShardTask, rows_read

log = logging.getLogger(__name__)


def describe_error(exc: BaseException) -> str:
    """One line for a shard failure; unexpected errors keep their last traceback frame."""
    if isinstance(exc, WebtextError):
        return f"{type(exc).__name__}: {exc}"
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({frame[0].filename}:{frame[0].lineno})" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"


class LocalRunner:
    name = "local"

    def __init__(self, max_retries: int = 0) -> None:
        self.max_retries = max_retries
        self.retries: dict[int, int] = {}  # shard index -> retries in the last ``run``

    def parallelism(self) -> int:
        return 1  # one shard at a time

    def run(
        self, fn: Callable[[ShardTask], dict[str, Any]], tasks: Sequence[ShardTask], description: str
    ) -> tuple[dict[int, dict[str, Any]], dict[int, str]]:
        results: dict[int, dict[str, Any]] = {}
        failures: dict[int, str] = {}
        self.retries = {}
        with progress(len(tasks), description) as bar:
            for task in tasks:
                for attempt in range(self.max_retries + 1):
                    try:
                        results[task.index] = fn(task)
                        break
                    except FatalError:
                        raise
                    except RetryableError as exc:
                        if attempt == self.max_retries:
                            failures[task.index] = describe_error(exc)
                        else:
                            self.retries[task.index] = attempt + 1
                            log.warning("shard %05d (%s): %s; retrying", task.index, task.label, exc)
                    except Exception as exc:  # a failed shard must not stop the others
                        failures[task.index] = describe_error(exc)
                        break
                if task.index in failures:
                    log.error("shard %05d (%s) failed: %s", task.index, task.label, failures[task.index])
                bar.advance(rows=rows_read(results.get(task.index)))
        return results, failures

    def close(self) -> None:
        pass
