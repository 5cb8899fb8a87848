"""Whether this process is a Ray job's driver, and the rule for relative paths there.

``ray job submit --working-dir .`` runs the entrypoint inside Ray's temporary copy of the working
directory (``.../runtime_resources/working_dir_files/_ray_pkg_<hash>/``): a relative ``workdir``
would be written there, the job would "succeed" and nothing would appear where the user looks,
and a relative input would be read from the upload (or be missing on other nodes). So inside a
job every relative path is refused with a message naming the key and the fix (an absolute path
on storage every node shares, or a URI); runs outside a job resolve relative paths as before.

Light on purpose (no Ray import): config loading calls it for every stage.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from webtext.errors import ConfigError

# Set by Ray's job supervisor for the entrypoint process only (ray._private.runtime_env.constants).
JOB_CONFIG_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"
PACKAGE_PREFIX = "_ray_pkg_"  # ray._private.runtime_env.packaging.RAY_PKG_PREFIX


def _package_dir(cwd: Path) -> Path | None:
    """The ``working_dir_files/_ray_pkg_*`` folder ``cwd`` lies in, if any."""
    for folder in (cwd, *cwd.parents):
        if folder.name.startswith(PACKAGE_PREFIX) and folder.parent.name == "working_dir_files":
            return folder
    return None


def ray_job() -> str | None:
    """A short description of the Ray job this process runs as (``Ray job raysubmit_...``), or None."""
    raw = os.environ.get(JOB_CONFIG_ENV)
    if raw:
        try:
            job_id = json.loads(raw).get("metadata", {}).get("job_submission_id")
        except (ValueError, AttributeError):
            job_id = None
        return f"Ray job {job_id}" if job_id else "a Ray job"
    package = _package_dir(Path.cwd())
    return f"a Ray job (working dir {package})" if package else None


def is_relative_path(value: str) -> bool:
    """True for a local path that is not absolute (``s3://...``, ``file:///...`` and the like are not)."""
    return bool(value) and "://" not in value and not Path(value).is_absolute()


def refuse_relative(key: str, value: str) -> None:
    """``ConfigError`` naming ``key`` if ``value`` is a relative path and this process is a Ray job."""
    if not is_relative_path(value):
        return
    job = ray_job()
    if job is None:
        return
    raise ConfigError(
        key, f"relative path {value!r} inside {job}: it would resolve inside Ray's temporary copy of the "
        f"working directory ({Path.cwd() / value}), which no one reads after the job; use an absolute path on "
        "storage every node shares (/mnt/shared/webtext/...) or a URI (s3://bucket/webtext/...)",
    )


def refuse_relative_fields(config: Any, key: str) -> None:
    """Inside a Ray job, ``ConfigError`` for the first relative path among ``config``'s fields.

    A field holds a relative path exactly when the config's own ``resolve_paths`` changes it, so
    this knows no stage's path fields: it compares the config with itself resolved under a probe base.
    """
    if ray_job() is None:
        return
    resolved = config.resolve_paths(Path("/"))
    for f in dataclasses.fields(config):
        before, after = getattr(config, f.name), getattr(resolved, f.name)
        field_key = f"{key}.{f.name}" if key else f.name
        if before == after:
            continue
        if isinstance(before, list):
            for i, (b, a) in enumerate(zip(before, after, strict=True)):
                if b != a:
                    refuse_relative(f"{field_key}[{i}]", str(b))
        elif isinstance(before, str):
            refuse_relative(field_key, before)
