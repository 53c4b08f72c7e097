"""The Helm SDK (PyPI `helm-python-sdk`, Helm's own Go SDK) against a Helm repository over HTTP, as
`helm repo add`, `helm search repo` and `helm pull --repo` use it: through a local repository, a
remote one whose upstream is a second reference server, and a virtual one in front of both."""
import io
import tarfile

import pytest
import requests
from helm_python import chart, registry

AUTH = ("admin", "password")


def package(tmp_path, name, version, description):
    """`helm create` and `helm package --version`, with our description."""
    src = tmp_path / f"src-{name}-{version}"
    src.mkdir()
    chart.Chart.create(name, str(src))
    meta = src / name / "Chart.yaml"
    lines = [l for l in meta.read_text().splitlines() if not l.startswith("description:")]
    meta.write_text("\n".join(lines + [f"description: {description}"]) + "\n")
    return chart.package(str(src / name), destination=str(tmp_path), version=version)


def deploy(base, repo, path):
    with open(path, "rb") as f:
        r = requests.put(f"{base}/{repo}/{path.rsplit('/', 1)[-1]}", data=f, auth=AUTH)
    assert r.status_code == 201, r.text


def search(index, name):
    """What `helm search repo <name>` lists: the versions the index has for it, newest first."""
    return [v["version"] for v in index["entries"].get(name, [])]


@pytest.fixture(scope="module")
def repos(server_url, upstream_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("charts")
    up = package(tmp, "upstream-app", "2.1.0", "served by the upstream")
    deploy(upstream_url, "helm-local", up)
    for v in ("1.0.0", "1.10.0"):
        deploy(server_url, "helm-local", package(tmp, "interop-app", v, f"local {v}"))
    for key, doc in [
        ("helm-remote", {"rclass": "remote", "packageType": "helm", "url": f"{upstream_url}/api/helm/helm-local",
                         "username": "admin", "password": "password"}),
        ("helm-virtual", {"rclass": "virtual", "packageType": "helm",
                          "repositories": ["helm-local", "helm-remote"], "defaultDeploymentRepo": "helm-local"}),
    ]:
        r = requests.put(f"{server_url}/api/repositories/{key}", json=doc, auth=AUTH)
        assert r.status_code == 200, r.text
    return server_url


def test_the_sdk_reads_a_local_index_and_pulls_from_it(repos, tmp_path):
    url = f"{repos}/api/helm/helm-local"
    index = registry.repo_index(url, username="admin", password="password")
    assert index["apiVersion"] == "v1"
    assert search(index, "interop-app") == ["1.10.0", "1.0.0"]
    out = registry.pull("interop-app", repo_url=url, version="1.0.0", destination=str(tmp_path),
                        username="admin", password="password")
    pulled = tmp_path / "interop-app-1.0.0.tgz"
    assert pulled.exists(), out
    assert chart.Chart.load(str(pulled)).metadata["description"] == "local 1.0.0"
    # Without a version Helm takes the newest (SemVer order, not text order).
    (tmp_path / "latest").mkdir()
    registry.pull("interop-app", repo_url=url, destination=str(tmp_path / "latest"),
                  username="admin", password="password")
    assert (tmp_path / "latest" / "interop-app-1.10.0.tgz").exists()


def test_the_sdk_pulls_through_a_remote_and_a_virtual(repos, tmp_path):
    for key, names in [("helm-remote", {"upstream-app"}), ("helm-virtual", {"upstream-app", "interop-app"})]:
        url = f"{repos}/api/helm/{key}"
        index = registry.repo_index(url, username="admin", password="password")
        assert set(index["entries"]) == names, index["entries"].keys()
        for entry in index["entries"]["upstream-app"]:
            assert entry["urls"][0].startswith(f"{url}/"), entry["urls"]
        dest = tmp_path / key
        dest.mkdir()
        registry.pull("upstream-app", repo_url=url, version="2.1.0", destination=str(dest),
                      username="admin", password="password")
        loaded = chart.Chart.load(str(dest / "upstream-app-2.1.0.tgz"))
        assert loaded.metadata["description"] == "served by the upstream"
    # The remote cached what it served.
    info = requests.get(f"{repos}/api/storage/helm-remote/upstream-app-2.1.0.tgz", auth=AUTH).json()
    assert info["remoteUrl"].endswith("/api/helm/helm-local/upstream-app-2.1.0.tgz")


def test_a_broken_chart_is_refused(repos):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        data = b"no chart here"
        info = tarfile.TarInfo("broken/README")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    r = requests.put(f"{repos}/helm-local/broken-0.1.0.tgz", data=buf.getvalue(), auth=AUTH)
    assert r.status_code == 400
    assert r.json()["errors"][0]["message"] == "Invalid Helm chart: no Chart.yaml in the package's top folder"
