"""Builds a small OCI image layout (one layer) in the given directory."""
import hashlib, io, json, os, sys, tarfile, gzip

def build(out, size=1024, tag="1.0", seed=b"x"):
    os.makedirs(f"{out}/blobs/sha256", exist_ok=True)
    def put(b):
        d = hashlib.sha256(b).hexdigest()
        with open(f"{out}/blobs/sha256/{d}", "wb") as f:
            f.write(b)
        return d
    data = (seed * (size // len(seed) + 1))[:size]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        ti = tarfile.TarInfo("payload.bin"); ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    layer_tar = raw.getvalue()
    layer = gzip.compress(layer_tar, mtime=0)
    ld = put(layer)
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]}, "config": {}}).encode()
    cd = put(config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cd, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + ld, "size": len(layer)}]}).encode()
    md = put(manifest)
    with open(f"{out}/oci-layout", "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(f"{out}/index.json", "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + md, "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
    return "sha256:" + md

if __name__ == "__main__":
    print(build(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1024))
