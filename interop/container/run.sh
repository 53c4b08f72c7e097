#!/usr/bin/env bash
# The reference server as other projects' CI gets it: the static binary (scripts/build-static.sh)
# starts with an empty environment and answers its own health check; the container image
# (container/Containerfile, built with buildah) runs with podman, or, where containers cannot run,
# from its unpacked root filesystem; and it is pushed into the reference server's own Docker
# repository and pulled back with skopeo.
set -euo pipefail
cd "$(dirname "$0")/../.."
fails=0
ok() { echo "ok - $*"; }
fail() { echo "not ok - $*"; fails=$((fails + 1)); }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
healthy() { # $1 port: the binary's own health check against it
  for _ in $(seq 150); do
    env -i JCR_BIND="127.0.0.1:$1" dist/jcr-reference health >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
# What the checks need (Debian): buildah, skopeo, podman; the static build installs its own.
bash scripts/need.sh buildah:buildah skopeo:skopeo podman:podman
bash scripts/build-static.sh
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; podman rm -f jcr-ci >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

# 1. The static binary with nothing but its JCR_* variables.
port=$(free_port)
env -i JCR_BIND="127.0.0.1:$port" JCR_DATA_DIR="$work/data" dist/jcr-reference >"$work/static.log" 2>&1 &
pids+=($!)
if healthy "$port"; then ok "static binary: starts with an empty environment, health says OK"; else fail "static binary did not become healthy"; cat "$work/static.log"; fi
if env -i JCR_BIND="127.0.0.1:$(free_port)" dist/jcr-reference health >/dev/null 2>&1; then
  fail "health says OK where nothing listens"
else
  ok "health fails where nothing listens"
fi

# 2. The image.
image=localhost/jcr-reference:ci
buildah bud -q --format docker -f container/Containerfile -t "$image" . >/dev/null
cfg=$(buildah inspect --type image "$image" | python3 -c '
import json, sys
c = json.load(sys.stdin)["Docker"]["config"]
print(c.get("User"), sorted(c.get("ExposedPorts") or {}), (c.get("Healthcheck") or {}).get("Test"),
      sorted(c.get("Volumes") or {}), c.get("Entrypoint"), sorted(e.split("=")[0] for e in c.get("Env") or []))')
want="10001:10001 ['8081/tcp'] ['CMD', '/jcr-reference', 'health'] ['/data'] ['/jcr-reference'] ['JCR_BIND', 'JCR_DATA_DIR', 'JCR_LOG', 'PATH']"
if [ "$cfg" = "$want" ]; then ok "image: non-root user, port 8081, health check, /data volume, options as JCR_* variables"; else fail "image config: $cfg"; fi
port2=$(free_port)
if podman run -d --name jcr-ci -p "127.0.0.1:$port2:8081" "$image" >/dev/null 2>&1; then
  if healthy "$port2" && podman healthcheck run jcr-ci >/dev/null 2>&1; then
    ok "image runs under podman and passes its health check"
  else
    fail "the container did not become healthy"; podman logs jcr-ci 2>&1 | tail -5
  fi
else
  # No container runtime here: the image's root filesystem, started as the image would start it.
  ctr=$(buildah from "$image")
  mnt=$(buildah mount "$ctr")
  env -i JCR_BIND="127.0.0.1:$port2" JCR_DATA_DIR="$work/rootfs-data" JCR_LOG=info "$mnt/jcr-reference" >"$work/rootfs.log" 2>&1 &
  pids+=($!)
  if healthy "$port2"; then ok "image: containers cannot run here; the binary of its root filesystem serves"; else fail "the image's binary did not become healthy"; fi
  kill "${pids[-1]}" 2>/dev/null || true
  buildah umount "$ctr" >/dev/null; buildah rm "$ctr" >/dev/null
fi

# 3. Into the reference server's own Docker repository and back.
rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb
dest="docker://127.0.0.1:$port/docker-local/jcr-reference:ci"
skopeo copy -q --dest-tls-verify=false --dest-creds admin:password "containers-storage:$image" "$dest"
want=$(skopeo inspect --raw --tls-verify=false --creds admin:password "$dest" | sha256sum | cut -d' ' -f1)
skopeo copy -q --src-tls-verify=false --src-creds admin:password "$dest" "dir:$work/pulled"
got=$(sha256sum "$work/pulled/manifest.json" | cut -d' ' -f1)
if [ "$want" = "$got" ]; then ok "image pushed into docker-local and pulled back (manifest sha256:$want)"; else fail "pulled manifest differs"; fi

if [ "$fails" -gt 0 ]; then echo "container interop: $fails failed"; exit 1; fi
echo "container interop: all passed"
