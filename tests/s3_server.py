"""A local S3-compatible server (moto's) on 127.0.0.1 for the object-storage tests.

``s3`` (session): moto's threaded server with a bucket, and the environment a user would set
(``AWS_ENDPOINT_URL``, credentials, region; instance-metadata lookups off). ``auth_s3`` starts a
second server in a subprocess that enforces IAM (``INITIAL_NO_AUTH_ACTION_COUNT``) with a user
who may do nothing, for the "no permission" and "missing credentials" cases.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

BUCKET = "webtext-test"
ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
       "AWS_EC2_METADATA_DISABLED": "true"}


@dataclass
class S3:
    endpoint: str
    bucket: str

    def uri(self, *names: str) -> str:
        return "/".join([f"s3://{self.bucket}", *names])


def _client(endpoint: str, key: str = "testing", secret: str = "testing", service: str = "s3"):
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret)


@pytest.fixture(scope="session")
def s3() -> Iterator[S3]:
    server_mod = pytest.importorskip("moto.server")
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the server's request lines are not ours to print
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {k: os.environ.get(k) for k in (*ENV, "AWS_ENDPOINT_URL")}
    os.environ.update(ENV, AWS_ENDPOINT_URL=endpoint)
    _client(endpoint).create_bucket(Bucket=BUCKET)
    try:
        yield S3(endpoint, BUCKET)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def auth_s3() -> Iterator[tuple[S3, dict[str, str]]]:
    """(server enforcing IAM with a bucket, credentials of a user with no permissions)."""
    pytest.importorskip("moto.server")
    port = _free_port()
    # the first 3 calls (create bucket, user, key) run unchecked; every later one is authorised
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # wait for it to listen (no timing is asserted)
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        _client(endpoint).create_bucket(Bucket=BUCKET)
        iam = _client(endpoint, service="iam")
        iam.create_user(UserName="nobody")
        key = iam.create_access_key(UserName="nobody")["AccessKey"]
        yield S3(endpoint, BUCKET), {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                                     "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    finally:
        proc.terminate()
        proc.wait(30)
