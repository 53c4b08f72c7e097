"""pytest plugin of jcr-reference: the ``jcr_server`` fixture.

    def test_upload(jcr_server):
        requests.put(jcr_server.url + "/generic-local/a.txt", data=b"x", auth=jcr_server.auth)

One server per session by default (``--jcr-server-scope=function`` for one per test); a
session-scoped server is reset to its seed after every test that used it, so tests do not see each
other's changes (``jcr_server_session`` is the same server without the resets).
``jcr_server_factory`` starts more (an upstream for remote repositories).
"""

import pytest

from . import JcrServer


def pytest_addoption(parser):
    group = parser.getgroup("jcr-reference")
    group.addoption("--jcr-server-scope", default="session", choices=["session", "function"],
                    help="one jcr-reference server per session (reset after each test) or per test")
    group.addoption("--jcr-server-arg", action="append", default=[],
                    help="a command-line flag for the server (repeat; --jcr-server-arg=--anonymous-access=true)")


def _scope(fixture_name, config):
    return config.getoption("--jcr-server-scope")


@pytest.fixture(scope=_scope)
def jcr_server_session(request):
    """The server itself, shared as the scope option says, with no reset between tests (for
    module- or session-scoped fixtures that build on it)."""
    args = []
    for a in request.config.getoption("--jcr-server-arg"):
        args.extend(a.split("=", 1) if a.startswith("--") and "=" in a else [a])
    with JcrServer(args=args) as server:
        yield server


@pytest.fixture
def jcr_server(jcr_server_session):
    """A running jcr-reference: ``.url``, ``.root``, ``.auth``, ``.reset()``, ``.seed(files)``,
    ``.requests()``, ``.clock(...)``, ``.fault(...)``; reset to its seed after the test."""
    yield jcr_server_session
    jcr_server_session.reset()


@pytest.fixture(scope="session")
def jcr_server_factory():
    """Starts more servers (``jcr_server_factory(args=[...])``), stopped at the end of the session."""
    started = []

    def start(**kwargs):
        s = JcrServer(**kwargs).start()
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
