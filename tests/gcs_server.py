"""A local GCS JSON API (gcp-storage-emulator's) on 127.0.0.1 for the ``gs://`` tests.

``gcs`` (session): the emulator in a thread, in memory, with a bucket, and the environment a user
of an emulator would set (``STORAGE_EMULATOR_HOST``); pyarrow's GCS client then talks to it
without credentials, as google-cloud-storage does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from s3_server import _free_port

BUCKET = "webtext-test"


@dataclass
class GCS:
    endpoint: str
    bucket: str

    def uri(self, *names: str) -> str:
        return "/".join([f"gs://{self.bucket}", *names])


@pytest.fixture(scope="session")
def gcs() -> Iterator[GCS]:
    server_mod = pytest.importorskip("gcp_storage_emulator.server")
    logging.getLogger("gcp_storage_emulator").setLevel(logging.WARNING)  # its request lines are not ours to print
    port = _free_port()
    server = server_mod.create_server("127.0.0.1", port, in_memory=True, default_bucket=BUCKET)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    saved = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = endpoint
    try:
        yield GCS(endpoint, BUCKET)
    finally:
        if saved is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = saved
        server.stop()
