"""dohq-artifactory (a widely used Python client) against the reference server."""
import hashlib
import io

import pytest
from artifactory import ArtifactoryPath

AUTH = ("admin", "password")


def path(url, rel):
    return ArtifactoryPath(f"{url}/{rel}", auth=AUTH)


def test_deploy_stat_read(server_url, tmp_path):
    local = tmp_path / "hello.txt"
    local.write_bytes(b"hello from dohq")
    target = path(server_url, "generic-local/interop/hello.txt")
    target.deploy_file(str(local))
    assert target.exists()
    assert target.is_file()
    st = target.stat()
    assert st.size == len(b"hello from dohq")
    assert st.sha1 == hashlib.sha1(b"hello from dohq").hexdigest()
    assert st.md5 == hashlib.md5(b"hello from dohq").hexdigest()
    assert st.sha256 == hashlib.sha256(b"hello from dohq").hexdigest()
    assert st.created_by == "admin"
    assert target.read_bytes() == b"hello from dohq"


def test_folders_and_listing(server_url):
    d = path(server_url, "generic-local/interop/tree")
    d.mkdir()
    assert d.is_dir()
    (d / "a.txt").deploy(io.BytesIO(b"a"))
    (d / "sub" / "b.txt").deploy(io.BytesIO(b"b"))
    names = sorted(p.name for p in d.iterdir())
    assert names == ["a.txt", "sub"]
    found = sorted(str(p).rsplit("/tree/", 1)[1] for p in d.glob("**/*.txt"))
    assert found == ["a.txt", "sub/b.txt"]


def test_properties_roundtrip(server_url):
    f = path(server_url, "generic-local/interop/props.bin")
    f.deploy(io.BytesIO(b"p"), parameters={"build": "7"})
    assert f.properties == {"build": ["7"]}
    f.properties = {"os": ["linux", "mac"], "qa": "done"}
    props = f.properties
    assert props["os"] == ["linux", "mac"]
    assert props["qa"] == ["done"]
    f.update_properties({"qa": None})
    assert "qa" not in f.properties


def test_copy_move_delete(server_url):
    src = path(server_url, "generic-local/interop/cm/src.txt")
    src.deploy(io.BytesIO(b"copy me"))
    copied = path(server_url, "helm-local/interop/copied.txt")
    src.copy(copied)
    assert copied.read_bytes() == b"copy me"
    moved = path(server_url, "generic-local/interop/cm/moved.txt")
    copied.move(moved)
    assert not copied.exists()
    assert moved.read_bytes() == b"copy me"
    moved.unlink()
    assert not moved.exists()
    path(server_url, "generic-local/interop/cm").rmdir()
    assert not path(server_url, "generic-local/interop/cm").exists()


def test_deploy_by_checksum(server_url):
    body = b"checksum deploy content"
    path(server_url, "generic-local/interop/orig.bin").deploy(io.BytesIO(body))
    again = path(server_url, "generic-local/interop/again.bin")
    again.deploy_by_checksum(sha1=hashlib.sha1(body).hexdigest())
    assert again.read_bytes() == body


def test_wrong_password_raises(server_url):
    from artifactory import ArtifactoryException

    bad = ArtifactoryPath(f"{server_url}/generic-local/interop/hello.txt", auth=("admin", "nope"))
    # dohq reads the message out of Artifactory's {"errors":[...]} body.
    with pytest.raises(ArtifactoryException, match="^Bad credentials$"):
        bad.stat()


def test_missing_item_is_reported_as_missing(server_url):
    assert not path(server_url, "generic-local/interop/never-deployed.txt").exists()


def test_aql_domains(server_url):
    base = path(server_url, "generic-local/interop/aql")
    (base / "one.bin").deploy(io.BytesIO(b"one"), parameters={"stage": "qa"})
    (base / "two.bin").deploy(io.BytesIO(b"two"), parameters={"stage": "qa"})
    rows = base.aql(
        "items.find",
        {"repo": "generic-local", "path": "interop/aql", "@stage": "qa"},
        ".include",
        ["repo", "path", "name", "@stage"],
        ".sort",
        {"$desc": ["name"]},
    )
    assert [r["name"] for r in rows] == ["two.bin", "one.bin"]
    assert rows[0]["properties"] == [{"key": "stage", "value": "qa"}]
    # The client turns rows back into paths it can read.
    rows = base.aql("items.find", {"repo": "generic-local", "name": "one.bin"})
    found = base.from_aql(rows[0])
    assert found.read_bytes() == b"one"
    # Other domains: property rows are distinct, and builds answer even when there are none.
    props = base.aql("properties.find", {"key": "stage", "item.path": "interop/aql"})
    assert props == [{"key": "stage", "value": "qa"}]
    assert base.aql("builds.find", {"name": "no-such-build"}) == []
