"""The Builds API with the Python clients CI and release tooling use: pyartifactory's
`ArtifactoryBuild` (create, list, runs, info, promote, diff, rename, delete) and dohq-artifactory's
`ArtifactoryBuildManager` (builds, runs, info, diff, promote), plus a build-info document as the
JFrog CLI publishes it, read back unchanged."""
import hashlib
import io
import json
import os
import urllib.parse

import pytest
import requests
from artifactory import ArtifactoryBuildManager, ArtifactoryPath
from pyartifactory import Artifactory
from pyartifactory.exception import BuildNotFoundError
from pyartifactory.models.build import (
    BuildCreateRequest,
    BuildDeleteRequest,
    BuildPromotionRequest,
)

AUTH = ("admin", "password")
HERE = os.path.dirname(__file__)


def deploy(url, rel, body, build=None):
    """Deploys `body` (with the `build.name`/`build.number` properties of `build`, as the CI
    plugins set them) and returns its checksums."""
    params = {"build.name": build[0], "build.number": build[1]} if build else None
    ArtifactoryPath(f"{url}/{rel}", auth=AUTH).deploy(io.BytesIO(body), parameters=params)
    return {
        "sha1": hashlib.sha1(body).hexdigest(),
        "sha256": hashlib.sha256(body).hexdigest(),
        "md5": hashlib.md5(body).hexdigest(),
    }


def put_build(url, doc):
    r = requests.put(f"{url}/api/build", json=doc, auth=AUTH)
    assert r.status_code == 204, r.text


@pytest.fixture()
def pya(server_url):
    return Artifactory(url=server_url, auth=AUTH)


def test_a_jfrog_cli_document_reads_back_unchanged(server_url):
    sums = deploy(server_url, "generic-local/interop/cli/web-app-42.tgz", b"web app 42")
    text = open(os.path.join(HERE, "fixtures", "cli-build-info.json")).read()
    for k, v in sums.items():
        text = text.replace(f"@{k.upper()}@", v)
    doc = json.loads(text)
    put_build(server_url, doc)
    name = urllib.parse.quote(doc["name"], safe="")
    got = requests.get(f"{server_url}/api/build/{name}/42", auth=AUTH).json()["buildInfo"]
    assert got.pop("artifactoryPrincipal") == "admin"
    assert got == doc


def test_pyartifactory_create_list_runs_info_promote_rename_delete(server_url, pya):
    sums = deploy(server_url, "generic-local/interop/pya/app.bin", b"pya app", ("pya-app", "1"))
    requests.put(
        f"{server_url}/api/repositories/pya-release",
        json={"rclass": "local", "packageType": "generic"},
        auth=AUTH,
    ).raise_for_status()
    for number, started in [("1", "2026-11-20T10:00:00.000+0000"), ("2", "2026-11-21T10:00:00.000+0000")]:
        pya.builds.create_build(
            BuildCreateRequest(
                name="pya-app",
                number=number,
                started=started,
                modules=[{"id": "pya-app", "artifacts": [{"type": "bin", "name": "app.bin", "sha1": sums["sha1"], "md5": sums["md5"]}]}],
            )
        )
    listed = pya.builds.list()
    assert "/pya-app" in [b.uri for b in listed.builds]
    runs = pya.builds.get_build_runs("pya-app")
    assert [r.uri for r in runs.buildsNumbers] == ["/2", "/1"]
    # pyartifactory sends module artifacts without sha256 and path (its create model has neither),
    # and its read model needs both: a build with files cannot be read back by pyartifactory from
    # any server, so the read goes to a build without modules.
    pya.builds.create_build(BuildCreateRequest(name="pya-info", number="7", started="2026-11-22T10:00:00.000+0000", url="https://ci.example/7"))
    info = pya.builds.get_build_info("pya-info", "7")
    assert (info.buildInfo.name, info.buildInfo.number, info.buildInfo.artifactoryPrincipal) == ("pya-info", "7", "admin")
    assert info.uri == f"{server_url}/api/build/pya-info/7"
    stored = requests.get(f"{server_url}/api/build/pya-app/1", auth=AUTH).json()["buildInfo"]
    assert stored["modules"][0]["artifacts"][0]["sha256"] == sums["sha256"], "filled from the stored file"

    result = pya.builds.promote_build(
        "pya-app",
        "1",
        BuildPromotionRequest(status="released", ciUser="ci", sourceRepo="generic-local", targetRepo="pya-release"),
    )
    assert result.messages == []
    assert ArtifactoryPath(f"{server_url}/pya-release/interop/pya/app.bin", auth=AUTH).exists()
    statuses = requests.get(f"{server_url}/api/build/pya-app/1", auth=AUTH).json()["buildInfo"]["statuses"]
    assert [(s["status"], s["repository"], s["user"]) for s in statuses] == [("released", "pya-release", "admin")]

    # pyartifactory's diff model holds plain strings: it reads a diff of builds without files.
    for number in ["3", "4"]:
        pya.builds.create_build(BuildCreateRequest(name="pya-empty", number=number, started=f"2026-11-2{number}T10:00:00.000+0000"))
    diff = pya.builds.build_diff("pya-empty", "4", "3")
    assert diff.artifacts.new == [] and diff.properties.updated == []

    pya.builds.build_rename("pya-empty", "pya-renamed")
    assert [r.uri for r in pya.builds.get_build_runs("pya-renamed").buildsNumbers] == ["/4", "/3"]
    with pytest.raises(BuildNotFoundError):
        pya.builds.get_build_runs("pya-empty")

    pya.builds.delete(BuildDeleteRequest(buildName="pya-renamed", buildNumbers=["3"]))
    assert [r.uri for r in pya.builds.get_build_runs("pya-renamed").buildsNumbers] == ["/4"]
    pya.builds.delete(BuildDeleteRequest(buildName="pya-renamed", deleteAll=True))
    with pytest.raises(BuildNotFoundError):
        pya.builds.get_build_info("pya-renamed", "4")


def test_dohq_builds_runs_info_diff_promote(server_url):
    a = deploy(server_url, "generic-local/interop/dohq/a.bin", b"dohq a", ("dohq/app", "1"))
    b = deploy(server_url, "generic-local/interop/dohq/b.bin", b"dohq b", ("dohq/app", "2"))
    base = {"version": "1.0.1", "name": "dohq/app", "agent": {"name": "jenkins", "version": "2.4"}}
    put_build(server_url, {**base, "number": "1", "started": "2026-11-20T10:00:00.000+0000",
                           "modules": [{"id": "m", "artifacts": [{"name": "a.bin", **a}]}]})
    put_build(server_url, {**base, "number": "2", "started": "2026-11-21T10:00:00.000+0000",
                           "modules": [{"id": "m", "artifacts": [{"name": "a.bin", **a}, {"name": "b.bin", **b}]}]})
    bm = ArtifactoryBuildManager(server_url, auth=AUTH)
    build = next(x for x in bm.builds if x.name == "dohq/app")
    assert build.last_started == "2026-11-21T10:00:00.000+0000"
    runs = build.runs
    assert [str(r) for r in runs] == ["2", "1"]
    info = runs[1].info
    assert info["buildInfo"]["modules"][0]["artifacts"][0]["sha1"] == a["sha1"]
    diff = runs[0].diff("1")
    assert [x["name"] for x in diff["artifacts"]["new"]] == ["b.bin"]
    assert [x["name"] for x in diff["artifacts"]["unchanged"]] == ["a.bin"]
    # dohq sends the timestamp with microseconds and a local offset. (Its promote call quotes the
    # name twice, so a name with '/' reaches any server as '%2F': promote one without.)
    c = deploy(server_url, "generic-local/interop/dohq/c.bin", b"dohq c", ("dohq-app", "3"))
    put_build(server_url, {**base, "name": "dohq-app", "number": "3", "started": "2026-11-22T10:00:00.000+0000",
                           "modules": [{"id": "m", "artifacts": [{"name": "c.bin", **c}]}]})
    run = bm.get_build_runs("dohq-app")[0]
    run.promote(ci_user="jenkins", properties={"qa": ["passed"]}, status="tested")
    statuses = bm.get_build_info("dohq-app", "3")["buildInfo"]["statuses"]
    assert [(s["status"], s["ciUser"]) for s in statuses] == [("tested", "jenkins")]
    assert ArtifactoryPath(f"{server_url}/generic-local/interop/dohq/c.bin", auth=AUTH).properties["qa"] == ["passed"]
