#!/usr/bin/env bash
# skopeo (Debian) against the reference server: build a small OCI image layout, push it, inspect it,
# list tags, pull it back and compare digests, copy between repositories, delete it; with and without
# authentication. The repository-path method (`/v2/<repo>/<image>`) is what image references can
# express; the API-path method (`/api/docker/<repo>/v2`) is exercised by interop/python/test_docker.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${JCR_REFERENCE_BIN:-target/debug/jcr-reference}
if ! command -v skopeo >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -q skopeo >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q skopeo >/dev/null)
  else
    sudo apt-get install -y -q skopeo >/dev/null
  fi
fi
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
"$BIN" --bind 127.0.0.1:0 --anonymous-access true --repo docker-local:local:docker --repo docker-prod:local:docker \
  > "$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  url=$(grep -o 'Ready at [^ ]*' "$work/server.log" | head -1 | cut -d' ' -f3 || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$work/server.log"; exit 1; }
host=${url#http://}; host=${host%%/*}
cache=/var/lib/containers/cache/blob-info-cache-v1.boltdb
creds=(--creds admin:password)
ok() { echo "ok - $*"; }

want=$(python3 interop/docker/mkimage.py "$work/img" 65536)
rm -f "$cache"
skopeo copy -q --dest-tls-verify=false --dest-creds admin:password "oci:$work/img:1.0" "docker://$host/docker-local/interop/app:1.0"
ok "push"
# Without credentials a push is refused (401 challenge, anonymous may only read).
rm -f "$cache"
if skopeo copy -q --dest-tls-verify=false "oci:$work/img:1.0" "docker://$host/docker-local/interop/app:anon" 2>"$work/err"; then
  echo "anonymous push succeeded"; exit 1
fi
grep -qi "unauthorized\|authentication required" "$work/err" || { cat "$work/err"; exit 1; }
ok "anonymous push refused"
got=$(skopeo inspect --tls-verify=false "${creds[@]}" "docker://$host/docker-local/interop/app:1.0" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')
[ "$got" = "$want" ] || { echo "inspect digest $got, pushed $want"; exit 1; }
ok "inspect (authenticated) digest $got"
got=$(skopeo inspect --tls-verify=false "docker://$host/docker-local/interop/app:1.0" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')
[ "$got" = "$want" ] || { echo "anonymous inspect digest $got"; exit 1; }
ok "inspect (anonymous read) digest $got"
tags=$(skopeo list-tags --tls-verify=false "${creds[@]}" "docker://$host/docker-local/interop/app" | python3 -c 'import json,sys; print(",".join(json.load(sys.stdin)["Tags"]))')
[ "$tags" = "1.0" ] || { echo "tags: $tags"; exit 1; }
ok "list-tags: $tags"
skopeo copy -q --src-tls-verify=false "${creds[@]/--creds/--src-creds}" "docker://$host/docker-local/interop/app:1.0" "oci:$work/pulled:1.0"
pulled=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$work/pulled/index.json")
[ "$pulled" = "$want" ] || { echo "pulled $pulled, pushed $want"; exit 1; }
cmp <(ls "$work/img/blobs/sha256" | sort) <(ls "$work/pulled/blobs/sha256" | sort)
ok "pull: same manifest digest and blobs"
rm -f "$cache"
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false --src-creds admin:password --dest-creds admin:password \
  "docker://$host/docker-local/interop/app:1.0" "docker://$host/docker-prod/interop/app:copied"
got=$(skopeo inspect --tls-verify=false "${creds[@]}" "docker://$host/docker-prod/interop/app:copied" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')
[ "$got" = "$want" ] || { echo "copied digest $got"; exit 1; }
ok "copy between repositories"
curl -fsS -u admin:password "$url/api/storage/docker-prod/interop/app/copied/manifest.json?properties" | grep -q '"docker.repoName"'
ok "the copy is laid out as Artifactory does (manifest.json with docker.* properties)"
skopeo delete --tls-verify=false "${creds[@]}" "docker://$host/docker-prod/interop/app:copied"
if skopeo inspect --tls-verify=false "${creds[@]}" "docker://$host/docker-prod/interop/app:copied" >/dev/null 2>&1; then
  echo "deleted tag still inspectable"; exit 1
fi
ok "delete"
echo "skopeo interop: all passed"
