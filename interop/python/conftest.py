"""The interop tests run against servers from the jcr-reference wheel's pytest plugin:
``jcr_server_session`` (one per session; the tests share it, module fixtures build on it) and
``jcr_server_factory`` (the upstream of remote repositories). ``interop/run`` builds the wheel and
installs it into a fresh environment."""

import pytest


@pytest.fixture(scope="session")
def server_url(jcr_server_session):
    return jcr_server_session.url


@pytest.fixture(scope="session")
def upstream_url(jcr_server_factory):
    """A second server, the upstream of remote repositories."""
    return jcr_server_factory().url
