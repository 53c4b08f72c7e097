"""Start the jcr-reference server (a JFrog Container Registry / Artifactory stand-in) from Python.

    from jcr_reference import JcrServer

    with JcrServer() as jcr:            # free port, temporary data, admin / password
        client = ArtifactoryPath(jcr.url + "/generic-local", auth=jcr.auth)
        ...
        jcr.reset()                     # back to the seed (the server's start)

The pytest plugin (installed with the package) offers the same as the ``jcr_server`` fixture.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import urllib.error
import urllib.request

__all__ = ["JcrServer", "binary"]


def binary():
    """The jcr-reference executable: ``$JCR_REFERENCE_BIN``, the one this package installed, or PATH."""
    given = os.environ.get("JCR_REFERENCE_BIN")
    if given:
        return given
    name = "jcr-reference.exe" if sys.platform == "win32" else "jcr-reference"
    beside = os.path.join(sysconfig.get_path("scripts"), name)
    if os.path.exists(beside):
        return beside
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError("no jcr-reference binary: install the jcr-reference wheel or set JCR_REFERENCE_BIN")
    return found


class JcrServer:
    """A jcr-reference server on a free port with a temporary data directory (or ``data_dir``).

    ``url`` is the base URL with the context path (``http://127.0.0.1:<port>/artifactory``),
    ``root`` the server root, ``auth`` the administrator's ``(user, password)``. ``args`` are more
    command-line flags (``["--anonymous-access", "true", "--repo", "libs-local"]``).
    """

    def __init__(self, args=(), data_dir=None, admin=("admin", "password"), timeout=30):
        self.args = list(args)
        self.auth = tuple(admin)
        self.timeout = timeout
        self._data_dir = data_dir
        self._tmp = None
        self._proc = None
        self.url = None
        self.root = None
        self.log = []

    def start(self):
        if self._data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="jcr-reference-")
            data = self._tmp.name
        else:
            data = self._data_dir
        self._proc = subprocess.Popen(
            [binary(), "--bind", "127.0.0.1:0", "--data-dir", data, *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
            text=True,
        )
        ready = threading.Event()

        def read():
            for line in self._proc.stdout:
                self.log.append(line.rstrip("\n"))
                m = re.search(r"Ready at (\S+)", line)
                if m and not ready.is_set():
                    self.url = m.group(1)
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(self.timeout):
            self.stop()
            raise RuntimeError("jcr-reference did not start:\n" + "\n".join(self.log[-20:]))
        self.root = re.sub(r"^(https?://[^/]+).*$", r"\1", self.url)
        # With a data directory of its own the start is not seeded by itself: seed it now, so
        # reset() always goes back to the state the server started with.
        self.seed()
        return self

    def stop(self):
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _call(self, method, path, body=None, content_type=None):
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(path if "://" in path else self.root + path, data=data, method=method)
        token = base64.b64encode(("%s:%s" % self.auth).encode()).decode()
        req.add_header("Authorization", "Basic " + token)
        if body is not None:
            req.add_header("Content-Type", content_type or "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                text = r.read().decode()
        except urllib.error.HTTPError as e:
            raise RuntimeError("%s %s: %s %s" % (method, path, e.code, e.read().decode())) from None
        return json.loads(text) if text.strip().startswith(("{", "[")) else text

    def seed(self, files=None):
        """Deploys ``files`` (``{"generic-local/a/b.txt;prop=v": b"bytes"}``), then makes the current
        state the seed that :meth:`reset` puts back."""
        for path, content in (files or {}).items():
            self._call("PUT", "%s/%s" % (self.url, path.lstrip("/")),
                       content if isinstance(content, bytes) else str(content).encode(),
                       "application/octet-stream")
        return self._call("POST", "/_reference/seed")

    def reset(self):
        """Puts the seed back (every change since is gone)."""
        return self._call("POST", "/_reference/reset")

    def requests(self, limit=100, status=None):
        """The last requests, newest first, 404s with the nearest existing paths (``nearMisses``)."""
        q = "?limit=%d" % limit + ("&status=%d" % status if status else "")
        return self._call("GET", "/_reference/requests" + q)["requests"]

    def clock(self, **settings):
        """The server's clock; ``set=`` (ms or ISO-8601), ``advance=`` (ms), ``freeze=`` move it."""
        if settings:
            return self._call("POST", "/_reference/clock", settings)
        return self._call("GET", "/_reference/clock")

    def fault(self, path, **rule):
        """Adds a fault rule (``status=503``, ``delayMs=``, ``drop=True``, ``truncate=``, ``times=``)."""
        return self._call("POST", "/_reference/faults", {"path": path, **rule})
