"""A path or URI -> (``pyarrow.fs`` filesystem, path), and storage failures as one-line errors.

The S3 endpoint comes from ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` (as the AWS CLI reads
them), credentials and region from the standard provider chain (environment, profile files,
instance roles). For GCS, credentials come from Google's default chain (``GOOGLE_APPLICATION_CREDENTIALS``,
``gcloud auth application-default login``, the metadata server); ``STORAGE_EMULATOR_HOST``
(``host:port`` or ``http://host:port``, as google-cloud-storage reads it) points ``gs://`` at a local
emulator instead, with no credentials, as that client does. This module never reads a secret itself
and never puts one in a message. Timeouts are short and retries few, so a bad endpoint fails within
a stage's time, not an hour.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from webtext.errors import ConfigError

REMOTE_SCHEMES = ("s3", "gs", "gcs")
CONNECT_TIMEOUT_S = 5.0
REQUEST_TIMEOUT_S = 60.0
MAX_ATTEMPTS = 3
# google-cloud-cpp retries transient GCS errors for 15 minutes by default; pyarrow exposes only this total
GCS_RETRY_S = 30.0


class StorageError(ConfigError):
    """Object storage refused or could not be reached: one line naming the URI and the fix.

    A ConfigError, so the CLI prints it as one line and exits 2 before (or instead of) any work.
    """

    def __init__(self, uri: str, message: str) -> None:
        super().__init__("", f"{uri}: {message}")
        self.uri = uri

    def __reduce__(self):
        return (_rebuild, (self.uri, self.message))


def _rebuild(uri: str, text: str) -> StorageError:
    err = StorageError.__new__(StorageError)
    ConfigError.__init__(err, "", text)
    err.uri = uri
    return err


def scheme_of(path: str | os.PathLike[str]) -> str:
    text = str(path)
    return text.split("://", 1)[0].lower() if "://" in text else ""


def is_remote(path: str | os.PathLike[str] | None) -> bool:
    """True for an object-store URI (``s3://``, ``gs://``); local paths and ``file://`` are not."""
    return path is not None and scheme_of(path) in REMOTE_SCHEMES


def local_path(path: str | os.PathLike[str]) -> Path:
    """A local path, or the path of a ``file://`` URI."""
    text = str(path)
    return Path(text[len("file://"):]) if scheme_of(text) == "file" else Path(text)


def join(base: str, *names: str) -> str:
    """``base`` joined with ``names`` by ``/`` (a URI stays a URI; ``Path`` would fold ``s3://``)."""
    return "/".join([base.rstrip("/"), *(n.strip("/") for n in names)])


def s3_endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def gcs_emulator() -> str | None:
    return os.environ.get("STORAGE_EMULATOR_HOST") or None


def filesystem(uri: str) -> tuple[Any, str]:
    """(``pyarrow.fs.FileSystem``, path inside it) for a remote URI."""
    import pyarrow.fs as pafs

    scheme = scheme_of(uri)
    path = uri.split("://", 1)[1].strip("/")
    if scheme == "s3":
        kwargs: dict[str, Any] = {}
        endpoint = s3_endpoint()
        if endpoint:
            kwargs["endpoint_override"] = endpoint
            kwargs["scheme"] = "https" if endpoint.startswith("https") else "http"
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if region:
            kwargs["region"] = region
        fs = pafs.S3FileSystem(connect_timeout=CONNECT_TIMEOUT_S, request_timeout=REQUEST_TIMEOUT_S,
                               retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=MAX_ATTEMPTS), **kwargs)
        return fs, path
    if scheme in ("gs", "gcs"):
        kwargs = {}
        emulator = gcs_emulator()
        if emulator:
            # an emulator checks no credentials, and the default chain would fail or stall outside Google Cloud
            transport, _, host = emulator.rpartition("://")
            kwargs = {"endpoint_override": host.rstrip("/"), "scheme": transport or "http", "anonymous": True}
        fs = pafs.GcsFileSystem(retry_time_limit=dt.timedelta(seconds=GCS_RETRY_S), **kwargs)
        return fs, path
    raise ConfigError("", f"{uri}: unsupported storage scheme {scheme!r}; use s3://, gs://, file:// or a path")


def _credentials_visible() -> bool:
    """Whether the standard chain has a source other than an instance role (which cannot be seen)."""
    env = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
           "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if any(os.environ.get(k) for k in env):
        return True
    files = (os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
             os.environ.get("AWS_CONFIG_FILE", "~/.aws/config"))
    return any(Path(f).expanduser().is_file() for f in files)


def storage_errors() -> tuple[type[Exception], ...]:
    """What a failed ``pyarrow.fs`` call raises: an ``OSError`` mostly, but for some GCS failures (a credentials
    file that cannot be loaded) an ``ArrowException`` that is not one: both are storage errors to translate."""
    import pyarrow as pa

    return (OSError, pa.ArrowException)


def translate(uri: str, exc: BaseException) -> StorageError:
    """The one-line error for a failed storage call on ``uri`` (the SDK's text reduced to its cause)."""
    text = str(exc)
    gcs = scheme_of(uri) in ("gs", "gcs")
    # google-cloud-cpp's credential lookup fails by not reaching the metadata server: said before "cannot reach"
    if gcs and ("OAuth2 access token" in text or "UNAUTHENTICATED" in text):
        return StorageError(uri, "no usable credentials; set GOOGLE_APPLICATION_CREDENTIALS to a key file (or run "
                            "`gcloud auth application-default login`, or run where a service account applies)")
    if "NETWORK_CONNECTION" in text or "connect to server" in text or "Could not connect" in text \
            or "resolve host" in text or "timed out" in text:
        endpoint = gcs_emulator() if gcs else s3_endpoint()
        where = f"endpoint {endpoint}" if endpoint else "the storage service"
        if gcs:  # real GCS has no endpoint setting to get wrong, an emulator has
            check = "STORAGE_EMULATOR_HOST and the network" if endpoint else "the network"
        else:  # an S3 user may have missed setting the endpoint as much as mistyped it
            check = "AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3) and the network"
        return StorageError(uri, f"cannot reach {where}; check {check}")
    if "NO_SUCH_BUCKET" in text or "NoSuchBucket" in text:
        return StorageError(uri, "the bucket does not exist; create it or fix the bucket name")
    if not _credentials_visible() and scheme_of(uri) == "s3":
        return StorageError(uri, "no credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                            "(or AWS_PROFILE, or run where an instance role applies)")
    if "ACCESS_DENIED" in text or "PERMISSION_DENIED" in text or "INVALID_ACCESS_KEY_ID" in text \
            or "SIGNATURE" in text or "403" in text:
        grant = ("storage.objects.list, .get, .create and .delete (roles/storage.objectAdmin)" if gcs else
                 "s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject")
        return StorageError(uri, f"access denied; grant these credentials {grant} on it, or use other credentials")
    first = text.splitlines()[0] if text else type(exc).__name__
    return StorageError(uri, f"storage error: {first}")


def check_bucket(uri: str) -> None:
    """Raise ``StorageError`` unless ``uri``'s bucket exists and these credentials may list it."""
    import pyarrow.fs as pafs

    fs, path = filesystem(uri)
    bucket = path.split("/", 1)[0]
    try:
        info = fs.get_file_info(bucket)
        if info.type == pafs.FileType.NotFound:
            raise StorageError(uri, f"bucket {bucket!r} does not exist; create it or fix the bucket name")
        fs.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=False))
    except storage_errors() as exc:
        raise translate(uri, exc) from None
