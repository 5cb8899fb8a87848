"""Runners: one per-shard function, run in-process (tests) or as one Ray task per shard.

``run_stage`` wraps a shard function with the dataset contract: fingerprint, resume, stats,
manifest. ``make_runner`` picks the local or the Ray runner from a ``RunnerConfig``.
"""

from webtext.runner.base import Runner, ShardOutput, ShardTask, execute_shard
from webtext.runner.factory import make_runner
from webtext.runner.local import LocalRunner
from webtext.runner.stage import fingerprint_of, input_identity, run_stage

__all__ = [
    "LocalRunner",
    "Runner",
    "ShardOutput",
    "ShardTask",
    "execute_shard",
    "fingerprint_of",
    "input_identity",
    "make_runner",
    "run_stage",
]
