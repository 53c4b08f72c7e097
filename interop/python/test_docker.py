"""The registry API through Artifactory's API-path method (`/api/docker/<repo>/v2`), driven the way a
registry client does it: challenge, token from the realm, then Bearer requests."""
import hashlib
import json
import re

import requests


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def test_push_pull_through_the_api_path_method(server_url):
    reg = f"{server_url}/api/docker/docker-local/v2"
    r = requests.get(f"{reg}/")
    assert r.status_code == 401
    assert r.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    challenge = r.headers["WWW-Authenticate"]
    realm = re.search(r'realm="([^"]+)"', challenge).group(1)
    token = requests.get(realm, params={"scope": "repository:py/app:pull,push"}, auth=("admin", "password")).json()["token"]
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    assert s.get(f"{reg}/").status_code == 200

    layer = b"python layer" * 1000
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    for blob in (layer, config):
        r = s.post(f"{reg}/py/app/blobs/uploads/")
        assert r.status_code == 202
        location = r.headers["Location"]
        if location.startswith("/"):
            location = re.match(r"https?://[^/]+", server_url).group(0) + location
        r = s.put(location, params={"digest": digest(blob)}, data=blob)
        assert r.status_code == 201, r.text
        assert r.headers["Docker-Content-Digest"] == digest(blob)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config), "digest": digest(config)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(layer), "digest": digest(layer)}],
    }).encode()
    r = s.put(f"{reg}/py/app/manifests/v1", data=manifest,
              headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"})
    assert r.status_code == 201, r.text
    r = s.get(f"{reg}/py/app/manifests/v1", headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert r.content == manifest
    assert r.headers["Docker-Content-Digest"] == digest(manifest)
    assert s.get(f"{reg}/py/app/blobs/{digest(layer)}").content == layer
    assert s.get(f"{reg}/py/app/tags/list").json() == {"name": "py/app", "tags": ["v1"]}
    assert "py/app" in s.get(f"{reg}/_catalog").json()["repositories"]
    r = s.delete(f"{reg}/py/app/manifests/{digest(manifest)}")
    assert r.status_code == 202
    r = s.get(f"{reg}/py/app/manifests/v1")
    assert r.status_code == 404
    assert r.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
