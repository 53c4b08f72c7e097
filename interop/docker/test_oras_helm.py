"""oras (PyPI `oras`) and the Helm SDK (PyPI `helm-python-sdk`) against a running reference server,
through each access method named in JCR_REGISTRIES (`method=host[/repo],...`, set by run.sh)."""
import hashlib
import json
import os

import oras.client
import oras.defaults
import oras.oci
import pytest
from helm_python import chart, registry

REGISTRIES = dict(item.split("=", 1) for item in os.environ["JCR_REGISTRIES"].split(","))
ARTIFACT_TYPE = "application/vnd.example.interop.report.v1+json"
SIGNATURE_TYPE = "application/vnd.example.interop.signature.v1"


def sha256(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


@pytest.fixture(params=sorted(REGISTRIES))
def target(request):
    """(method, registry host, repository prefix inside it)."""
    where = REGISTRIES[request.param]
    host, _, prefix = where.partition("/")
    return request.param, host, prefix


def client(host, tmp_path):
    c = oras.client.OrasClient(hostname=host, insecure=True)
    c.login(username="admin", password="password", hostname=host,
            config_path=str(tmp_path / "docker-config.json"))
    return c


def ref(host, prefix, name):
    return f"{host}/{prefix + '/' if prefix else ''}{name}"


def test_oras_push_pull_attach_and_discover(target, tmp_path, monkeypatch):
    method, host, prefix = target
    monkeypatch.chdir(tmp_path)
    (tmp_path / "report.json").write_text(json.dumps({"method": method, "ok": True}))
    (tmp_path / "config.json").write_text("{}")
    c = client(host, tmp_path)
    name = ref(host, prefix, f"interop/oras-{method}")
    # The artifact's type is its config's media type (how oras-py declares one).
    r = c.push(target=f"{name}:v1", files=["report.json:application/json"],
               manifest_config=f"config.json:{ARTIFACT_TYPE}",
               manifest_annotations={"org.example.method": method}, quiet=True)
    assert r.status_code == 201, r.text
    manifest = c.get_manifest(f"{name}:v1")
    assert manifest["config"]["mediaType"] == ARTIFACT_TYPE
    assert manifest["annotations"] == {"org.example.method": method}
    out = tmp_path / "pulled"
    files = c.pull(target=f"{name}:v1", outdir=str(out))
    assert [os.path.basename(f) for f in files] == ["report.json"]
    assert (out / "report.json").read_text() == (tmp_path / "report.json").read_text()
    assert c.get_tags(name) == ["v1"]

    # The manifest as the registry holds it (its bytes are what the subject's digest names).
    container = c.get_container(f"{name}:v1")
    raw = c.do_request(f"{c.prefix}://{container.manifest_url()}", "GET",
                       headers={"Accept": oras.defaults.default_manifest_media_type})
    assert raw.status_code == 200
    subject = raw.headers["Docker-Content-Digest"]
    assert subject == sha256(raw.content)

    # Attach a signature with an artifactType and a subject, as `oras attach` does.
    signature = tmp_path / "signature.bin"
    signature.write_bytes(b"signed by the interop test")
    layer = oras.oci.NewLayer(str(signature), media_type="application/octet-stream")
    assert c.upload_blob(str(signature), container, layer).status_code == 201
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    conf = {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256(b"{}"), "size": 2}
    # The empty config is in the image already (the push above uploaded it): oras finds it there.
    assert c.upload_blob(str(empty), container, conf).status_code in (200, 201)
    attached = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": SIGNATURE_TYPE,
        "config": conf,
        "layers": [layer],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": subject, "size": len(raw.content)},
        "annotations": {"org.example.signed": "yes"},
    }
    body = json.dumps(attached).encode()
    sig_container = c.get_container(f"{name}@{sha256(body)}")
    r = c.do_request(f"{c.prefix}://{sig_container.manifest_url()}", "PUT", data=body,
                     headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status_code == 201, r.text
    assert r.headers.get("OCI-Subject") == subject

    # Discover it through the referrers API, filtered by either artifact's type.
    base = f"{c.prefix}://{container.registry}/v2/{container.api_prefix}/referrers/{subject}"
    index = c.do_request(base, "GET").json()
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert [(m["digest"], m["artifactType"]) for m in index["manifests"]] == [(sha256(body), SIGNATURE_TYPE)]
    assert index["manifests"][0]["annotations"] == {"org.example.signed": "yes"}
    r = c.do_request(f"{base}?artifactType={SIGNATURE_TYPE}", "GET")
    assert r.headers.get("OCI-Filters-Applied") == "artifactType"
    assert len(r.json()["manifests"]) == 1
    assert c.do_request(f"{base}?artifactType={ARTIFACT_TYPE}", "GET").json()["manifests"] == []
    assert c.delete_tag(name, "v1")
    gone = c.do_request(f"{c.prefix}://{container.manifest_url()}", "GET",
                        headers={"Accept": oras.defaults.default_manifest_media_type})
    assert gone.status_code == 404
    assert gone.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"


def test_helm_sdk_pushes_and_pulls_a_chart_over_oci(target, tmp_path):
    method, host, prefix = target
    src = tmp_path / "src"
    src.mkdir()
    created = chart.Chart.create(f"interop-{method}", str(src))
    assert created.version == "0.1.0"
    package = chart.package(str(src / f"interop-{method}"), destination=str(tmp_path))
    package = package if isinstance(package, str) else package["path"]
    with registry.RegistryClient(plain_http=True, credentials_file=str(tmp_path / "creds.json")) as rc:
        rc.login(host, "admin", "password", plain_http=True)
        repo = f"oci://{ref(host, prefix, 'charts')}"
        rc.push(package, repo)
        name = f"{repo}/interop-{method}"
        assert rc.tags(name) == ["0.1.0"]
        described = rc.resolve(f"{name}:0.1.0")
        assert described["media_type"] == "application/vnd.oci.image.manifest.v1+json"
        out = tmp_path / "pulled"
        out.mkdir()
        rc.pull(name, version="0.1.0", destination=str(out), plain_http=True)
        pulled = out / f"interop-{method}-0.1.0.tgz"
        assert pulled.read_bytes() == open(package, "rb").read()
        assert chart.Chart.load(str(pulled)).name == f"interop-{method}"
