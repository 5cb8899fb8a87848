"""The error hierarchy that tells the runner what to do with a failure (STYLE.md, dolma).

- ConfigError: bad configuration; stop before any work starts. Names the key to change.
- ShardError: this shard cannot be processed (corrupt input...); fail it, finish the others,
  report it, do not write the manifest.
- RetryableError: a transient failure; the runner may retry the shard.
- FatalError: stop everything now.
- ContractError (a FatalError): a stage broke the dataset contract (its books do not balance): a bug.
- InputError (a FatalError): an input is not what its manifest says, or has none (webtext.inputs).
- WriteError (a FatalError): out of space or permission while writing; names the file and bytes needed.
"""

from __future__ import annotations


class WebtextError(Exception):
    """Base class of every error webtext raises on purpose."""


class ConfigError(WebtextError):
    """A configuration value is missing, unknown or of the wrong type.

    ``key`` is the dotted YAML path of the offending value (``stages.urls.min_karma``).
    """

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}" if key else message)

    def __reduce__(self):
        return (type(self), (self.key, self.message))


class ShardError(WebtextError):
    """One shard failed; the others go on and the stage reports it."""

    def __init__(self, message: str, *, path: str | None = None, offset: int | None = None) -> None:
        self.path = path
        self.offset = offset
        where = ""
        if path is not None:
            where = f"{path}"
            if offset is not None:
                where += f" at byte offset {offset}"
            where += ": "
        super().__init__(f"{where}{message}")

    def __reduce__(self):  # keep path/offset when Ray pickles the error back to the driver
        return (_rebuild_shard_error, (self.args[0], self.path, self.offset))


def _rebuild_shard_error(text: str, path: str | None, offset: int | None) -> ShardError:
    err = ShardError.__new__(ShardError)
    Exception.__init__(err, text)
    err.path, err.offset = path, offset
    return err


class RetryableError(WebtextError):
    """A transient failure (I/O hiccup, lost worker); retrying the shard may succeed."""


class FatalError(WebtextError):
    """Something is wrong with the whole run; stop now."""


class ContractError(FatalError):
    """A stage broke the dataset contract (e.g. a shard whose counts do not balance): a bug, not bad input."""


class StageFailedError(WebtextError):
    """Some shards of a stage failed; the others finished and the manifest was not written."""

    def __init__(self, stage: str, failures: dict[int, str]) -> None:
        self.stage = stage
        self.failures = failures
        lines = "\n".join(f"  shard {i:05d}: {msg}" for i, msg in sorted(failures.items()))
        super().__init__(f"stage {stage!r}: {len(failures)} shard(s) failed; no manifest written\n{lines}")

    def __reduce__(self):
        return (type(self), (self.stage, self.failures))


class VerifyError(WebtextError):
    """A dataset does not match its manifest."""


class InputError(FatalError):
    """An input dataset is not what its manifest says (missing, extra or changed files), or has no manifest at
    all (its stage did not finish). Raised before any work starts; the message names the file and the fix."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)

    def __reduce__(self):
        return (_rebuild_with_path, (type(self), self.args[0], self.path))


class WriteError(FatalError):
    """A file could not be written (disk full, quota, permission, read-only file system): every shard would
    fail the same way, so the stage stops. Names the path being written and, where known, the bytes needed;
    what was half written is a temporary that no reader or rerun takes as complete."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)

    def __reduce__(self):
        return (_rebuild_with_path, (type(self), self.args[0], self.path))


def _rebuild_with_path(cls: type, text: str, path: str | None) -> WebtextError:
    return cls(text, path=path)
