"""Starts the jcr-reference binary on a free port for the interop tests."""
import os
import re
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("JCR_REFERENCE_BIN", os.path.join(ROOT, "target", "debug", "jcr-reference"))


def _start():
    proc = subprocess.Popen(
        [BINARY, "--bind", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1"},
        text=True,
    )
    url = None
    for line in proc.stdout:
        m = re.search(r"Ready at (\S+)", line)
        if m:
            url = m.group(1)
            break
    assert url, "the server did not print its Ready line"
    return proc, url


def _serve():
    proc, url = _start()
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def server_url():
    yield from _serve()


@pytest.fixture(scope="session")
def upstream_url():
    """A second server, the upstream of remote repositories."""
    yield from _serve()
