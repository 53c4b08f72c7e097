"""Builds a small image in a directory, for skopeo to push.

    mkimage.py DIR [SIZE] [--format oci|v2s2] [--arches amd64,arm64] [--tag TAG]

One single-layer image per architecture (SIZE bytes of payload each), in OCI or Docker schema 2
media types. With one architecture the top manifest is the image itself; with several it is an
OCI index (--format oci) or a Docker manifest list (--format v2s2) over them. OCI images are
written as an OCI image layout (skopeo's `oci:DIR:TAG`); Docker ones in skopeo's own directory
format (`dir:DIR`), because skopeo's OCI layout reader takes no Docker manifest list. Prints the
digest of the top manifest.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import tarfile

TYPES = {
    "oci": {
        "manifest": "application/vnd.oci.image.manifest.v1+json",
        "config": "application/vnd.oci.image.config.v1+json",
        "layer": "application/vnd.oci.image.layer.v1.tar+gzip",
        "list": "application/vnd.oci.image.index.v1+json",
    },
    "v2s2": {
        "manifest": "application/vnd.docker.distribution.manifest.v2+json",
        "config": "application/vnd.docker.container.image.v1+json",
        "layer": "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "list": "application/vnd.docker.distribution.manifest.list.v2+json",
    },
}


def build(out, size=1024, fmt="oci", arches=("amd64",), tag="1.0"):
    types = TYPES[fmt]
    os.makedirs(f"{out}/blobs/sha256", exist_ok=True)

    def put(b):
        d = hashlib.sha256(b).hexdigest()
        with open(f"{out}/blobs/sha256/{d}", "wb") as f:
            f.write(b)
        return {"digest": "sha256:" + d, "size": len(b)}

    images = []
    for arch in arches:
        seed = f"{fmt}/{arch}/".encode()
        data = (seed * (size // len(seed) + 1))[:size]
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as t:
            ti = tarfile.TarInfo("payload.bin")
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
        layer_tar = raw.getvalue()
        layer = put(gzip.compress(layer_tar, mtime=0))
        diff_id = "sha256:" + hashlib.sha256(layer_tar).hexdigest()
        config = put(json.dumps({"architecture": arch, "os": "linux", "config": {},
                                 "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode())
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": types["manifest"],
            "config": {"mediaType": types["config"], **config},
            "layers": [{"mediaType": types["layer"], **layer}],
        }).encode()
        images.append({"mediaType": types["manifest"], **put(manifest),
                       "platform": {"architecture": arch, "os": "linux"}})
    if len(images) == 1:
        top = images[0]
        del top["platform"]
    else:
        body = json.dumps({"schemaVersion": 2, "mediaType": types["list"], "manifests": images}).encode()
        top = {"mediaType": types["list"], **put(body)}
    if fmt == "v2s2":
        to_dir_format(out, top, images)
        return top["digest"]
    with open(f"{out}/oci-layout", "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    top["annotations"] = {"org.opencontainers.image.ref.name": tag}
    with open(f"{out}/index.json", "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [top]}, f)
    return top["digest"]


def to_dir_format(out, top, images):
    """Rewrites the blobs as skopeo's `dir:` transport (version 1.1) lays them out: blobs by hex,
    `manifest.json` for the top manifest and `<hex>.manifest.json` for each image of a list."""
    blobs = f"{out}/blobs/sha256"
    hexes = {d["digest"].split(":")[1] for d in images + [top]}
    for name in os.listdir(blobs):
        if name in hexes:
            continue
        os.rename(f"{blobs}/{name}", f"{out}/{name}")
    for d in images:
        h = d["digest"].split(":")[1]
        if len(images) > 1:
            os.rename(f"{blobs}/{h}", f"{out}/{h}.manifest.json")
    top_hex = top["digest"].split(":")[1]
    os.rename(f"{blobs}/{top_hex}", f"{out}/manifest.json")
    os.removedirs(blobs)
    with open(f"{out}/version", "w") as f:
        f.write("Directory Transport Version: 1.1\n")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("size", nargs="?", type=int, default=1024)
    p.add_argument("--format", choices=sorted(TYPES), default="oci")
    p.add_argument("--arches", default="amd64")
    p.add_argument("--tag", default="1.0")
    a = p.parse_args()
    print(build(a.dir, a.size, a.format, a.arches.split(","), a.tag))
