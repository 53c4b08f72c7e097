#!/usr/bin/env bash
# Real registry clients against the reference server binary, through both of JCR's access methods:
# - the repository-path method, `<host>/<repoKey>/<image>` (what image references express directly);
# - the API-path method, `<ctx>/api/docker/<repoKey>/v2/...`, behind nginx set up as JCR's "port
#   method" reverse proxy (one port per repository, `/v2/<image>` rewritten to the API path), which
#   is how Docker clients reach that path.
# skopeo (Docker schema 2, OCI, a multi-architecture OCI index and Docker manifest list with
# --all), podman and buildah (Debian packages), then oras and the Helm SDK (PyPI, pytest in
# test_oras_helm.py). Every push first removes the blob-info cache so blobs are really uploaded.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${JCR_REFERENCE_BIN:-target/debug/jcr-reference}
PYTHON=${PYTHON:-python3}

bash scripts/need.sh skopeo:skopeo podman:podman buildah:buildah nginx:nginx-light docker-registry:docker-registry

work=$(mktemp -d)
cleanup() {
  for p in "$work/nginx.pid" "$work/nginx-snippet.pid"; do
    [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
  done
  kill "${pid:-}" "${reg_pid:-}" "${seeded_pid:-}" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# podman and buildah keep their images in this run's directory, in the driver that needs no
# kernel support, and their logins in its own file.
cat > "$work/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$work/storage"
runroot = "$work/run"
EOF
export CONTAINERS_STORAGE_CONF="$work/storage.conf" REGISTRY_AUTH_FILE="$work/auth.json"
cache=/var/lib/containers/cache/blob-info-cache-v1.boltdb

# The URL a server logging to $1 says it is ready at (its log, and a failure, if it never does).
ready_url() {
  local u
  for _ in $(seq 100); do
    u=$(grep -o 'Ready at [^ ]*' "$1" | head -1 | cut -d' ' -f3 || true)
    [ -n "$u" ] && { echo "$u"; return; }
    sleep 0.1
  done
  cat "$1" >&2
  return 1
}
"$BIN" --bind 127.0.0.1:0 --anonymous-access true --repo docker-local:local:docker --repo docker-prod:local:docker \
  > "$work/server.log" 2>&1 &
pid=$!
url=$(ready_url "$work/server.log")
host=${url#http://}; host=${host%%/*}
ctx=/${url#http://*/}

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port_local=$(free_port); port_prod=$(free_port)
proxy() { # port repo
  cat <<EOF
  server {
    listen 127.0.0.1:$1;
    location /v2/ {
      rewrite ^/v2/(.*)\$ $ctx/api/docker/$2/v2/\$1 break;
      proxy_pass http://$host;
      proxy_set_header Host \$http_host;
    }
    location / { proxy_pass http://$host; proxy_set_header Host \$http_host; }
  }
EOF
}
cat > "$work/nginx.conf" <<EOF
daemon on;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path $work/nginx-body;
  proxy_temp_path $work/nginx-proxy;
  client_max_body_size 0;
  proxy_request_buffering off;
  proxy_buffering off;
  proxy_http_version 1.1;
$(proxy "$port_local" docker-local)
$(proxy "$port_prod" docker-prod)
}
EOF
nginx -c "$work/nginx.conf"

fail() { echo "not ok - $*"; exit 1; }
ok() { echo "ok - $*"; }
digest_of() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
inspect_digest() { skopeo inspect --tls-verify=false "$@" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["Digest"])'; }
raw_digest() { skopeo inspect --raw --tls-verify=false "$@" | sha256sum | sed 's/^/sha256:/; s/ .*//'; }
push_creds=(--dest-tls-verify=false --dest-creds admin:password)
pull_creds=(--src-tls-verify=false --src-creds admin:password)
# Pulls $2 (docker://...) with skopeo into a directory (--all when $4, the images of the list, is
# more than 0) and checks its manifest is $3 and every image of the list came; $1 names the check.
pull_whole() {
  local what=$1 ref=$2 want=$3 images=$4 out all=()
  out="$work/pull-${what//[^a-zA-Z0-9]/-}"
  [ "$images" -gt 0 ] && all=(--all)
  rm -f "$cache"
  skopeo copy -q "${all[@]}" "${pull_creds[@]}" "$ref" "dir:$out"
  [ "$(digest_of "$out/manifest.json")" = "$want" ] || fail "$what: pulled manifest differs"
  [ "$(ls "$out" | grep -c '\.manifest\.json$' || true)" = "$images" ] || fail "$what: not every image of the list"
}

# skopeo: push, inspect with and without credentials, list tags, pull back, copy to the other
# repository, delete. $1 method name, $2 local prefix, $3 prod prefix, $4 format, $5 architectures.
skopeo_round() {
  local m=$1 L=$2 P=$3 fmt=$4 arches=$5 name="interop/skopeo-$4-${5//,/-}" src want all=()
  src="$work/src-$m-$fmt-$arches"
  want=$("$PYTHON" interop/docker/mkimage.py "$src" 65536 --format "$fmt" --arches "$arches")
  if [ "$fmt" = oci ]; then src="oci:$src:1.0"; else src="dir:$src"; fi
  [[ $arches == *,* ]] && all=(--all)
  local what="$m $fmt $arches"
  rm -f "$cache"
  skopeo copy -q "${all[@]}" "${push_creds[@]}" "$src" "docker://$L/$name:1.0"
  ok "$what: push"
  rm -f "$cache"
  if skopeo copy -q "${all[@]}" --dest-tls-verify=false "$src" "docker://$L/$name:anon" 2>"$work/err"; then
    fail "$what: anonymous push succeeded"
  fi
  grep -qi "unauthorized\|authentication required" "$work/err" || { cat "$work/err"; fail "$what: anonymous push"; }
  ok "$what: anonymous push refused"
  [ "$(raw_digest --creds admin:password "docker://$L/$name:1.0")" = "$want" ] || fail "$what: raw manifest differs"
  [ "$(inspect_digest --creds admin:password "docker://$L/$name:1.0")" = "$want" ] || fail "$what: inspect digest"
  [ "$(inspect_digest "docker://$L/$name:1.0")" = "$want" ] || fail "$what: anonymous inspect digest"
  ok "$what: inspect (authenticated and anonymous) digest $want"
  if [[ $arches == *arm64* ]]; then
    got=$(skopeo inspect --tls-verify=false --override-arch arm64 --config "docker://$L/$name:1.0" \
      | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["architecture"])')
    [ "$got" = arm64 ] || fail "$what: the arm64 image's config says $got"
    ok "$what: the arm64 image of the list"
  fi
  tags=$(skopeo list-tags --tls-verify=false --creds admin:password "docker://$L/$name" \
    | "$PYTHON" -c 'import json,sys; print(",".join(json.load(sys.stdin)["Tags"]))')
  [ "$tags" = "1.0" ] || fail "$what: tags $tags"
  ok "$what: list-tags $tags"
  local out="$work/pulled-$m-$fmt-$arches"
  skopeo copy -q "${all[@]}" "${pull_creds[@]}" "docker://$L/$name:1.0" "dir:$out"
  [ "$(digest_of "$out/manifest.json")" = "$want" ] || fail "$what: pulled manifest differs"
  local images=0
  [[ $arches == *,* ]] && images=$(tr ',' '\n' <<<"$arches" | wc -l)
  [ "$(ls "$out" | grep -c '\.manifest\.json$' || true)" = "$images" ] || fail "$what: not every image of the list was pulled"
  ok "$what: pull back, same digest"
  rm -f "$cache"
  skopeo copy -q "${all[@]}" "${pull_creds[@]}" "${push_creds[@]}" "docker://$L/$name:1.0" "docker://$P/$name:copied"
  [ "$(raw_digest --creds admin:password "docker://$P/$name:copied")" = "$want" ] || fail "$what: copied digest"
  ok "$what: copy between repositories"
  skopeo delete --tls-verify=false --creds admin:password "docker://$P/$name:copied"
  if skopeo inspect --raw --tls-verify=false --creds admin:password "docker://$P/$name:copied" >/dev/null 2>&1; then
    fail "$what: the deleted tag is still there"
  fi
  ok "$what: delete"
}

# podman and buildah: build FROM scratch, log in, push (schema 2 with podman, OCI with buildah),
# pull back with podman and with skopeo, search, and pull anonymously after logging out.
podman_round() {
  local m=$1 L=$2 registry=${2%%/*} ctxdir="$work/build-$1" tag
  mkdir -p "$ctxdir"
  echo "built for the $m method" > "$ctxdir/hello.txt"
  printf 'FROM scratch\nCOPY hello.txt /hello.txt\nLABEL org.example.interop=%s\n' "$m" > "$ctxdir/Containerfile"
  tag="localhost/interop/built-$m:1"
  buildah bud -q --format docker -t "$tag" "$ctxdir" >/dev/null
  ok "$m: buildah bud FROM scratch"
  rm -f "$cache"
  if podman push -q --tls-verify=false "$tag" "$L/interop/podman:anon" 2>"$work/err"; then
    fail "$m: podman push without login succeeded"
  fi
  ok "$m: podman push without login refused"
  podman login --tls-verify=false -u admin -p password "$registry" >/dev/null
  ok "$m: podman login"
  rm -f "$cache"
  podman push -q --tls-verify=false --format v2s2 --digestfile "$work/podman.digest" "$tag" "$L/interop/podman:1"
  local want; want=$(cat "$work/podman.digest")
  skopeo inspect --raw --tls-verify=false "docker://$L/interop/podman:1" > "$work/podman.manifest"
  grep -q '"application/vnd.docker.distribution.manifest.v2+json"' "$work/podman.manifest" \
    || fail "$m: podman did not push schema 2"
  [ "$(digest_of "$work/podman.manifest")" = "$want" ] || fail "$m: pushed $want, registry has another"
  ok "$m: podman push (Docker schema 2) $want"
  rm -f "$cache"
  buildah push -q --tls-verify=false --format oci "$tag" "docker://$L/interop/buildah:1"
  skopeo inspect --raw --tls-verify=false "docker://$L/interop/buildah:1" | grep -q '"application/vnd.oci.image.manifest.v1+json"' \
    || fail "$m: buildah did not push OCI"
  ok "$m: buildah push (OCI)"
  podman rmi -f "$tag" >/dev/null
  # The regression test for the Accept defect: a schema 2 image pushed by podman pulled back.
  podman pull -q --tls-verify=false "$L/interop/podman:1" >/dev/null
  [ "$(podman image inspect --format '{{.Digest}}' "$L/interop/podman:1")" = "$want" ] || fail "$m: podman pull digest"
  ok "$m: podman pull of the schema 2 image"
  skopeo copy -q --src-tls-verify=false "docker://$L/interop/podman:1" "dir:$work/podman-pulled-$m"
  [ "$(digest_of "$work/podman-pulled-$m/manifest.json")" = "$want" ] || fail "$m: skopeo pull digest"
  ok "$m: skopeo pull of the schema 2 image"
  buildah pull -q --tls-verify=false "$L/interop/buildah:1" >/dev/null
  ok "$m: buildah pull of the OCI image"
  podman search --tls-verify=false --format '{{.Name}}' "$registry/interop/podman" > "$work/search"
  grep -q "interop/podman" "$work/search" || { cat "$work/search"; fail "$m: podman search"; }
  ok "$m: podman search"
  podman logout "$registry" >/dev/null
  podman rmi -f "$L/interop/podman:1" >/dev/null
  podman pull -q --tls-verify=false "$L/interop/podman:1" >/dev/null
  ok "$m: anonymous podman pull after logout"
}

for method in repository-path api-path; do
  if [ "$method" = repository-path ]; then
    L="$host/docker-local"; P="$host/docker-prod"
  else
    L="127.0.0.1:$port_local"; P="127.0.0.1:$port_prod"
  fi
  skopeo_round "$method" "$L" "$P" v2s2 amd64
  skopeo_round "$method" "$L" "$P" oci amd64
  skopeo_round "$method" "$L" "$P" oci amd64,arm64
  skopeo_round "$method" "$L" "$P" v2s2 amd64,arm64
  podman_round "$method" "$L"
done
curl -fsS -u admin:password "$url/api/storage/docker-prod/interop/skopeo-oci-amd64?list&deep=1" >/dev/null
curl -fsS -u admin:password "$url/api/storage/docker-local/interop/podman/1/manifest.json?properties" | grep -q '"docker.repoName"' \
  || fail "the pushed tag is not laid out as Artifactory does"
ok "laid out as Artifactory does (manifest.json with docker.* properties)"

# Pull-through: the CNCF distribution registry (Debian docker-registry) holds images skopeo pushed
# to it in every format; a docker remote in front of it, and a virtual over docker-local and that
# remote, serve them to skopeo, and keep serving from the cache once the upstream is gone.
reg_port=$(free_port)
cat > "$work/registry.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$reg_port
EOF
# (without the podman login file variable, which distribution would read as its auth setting)
env -u REGISTRY_AUTH_FILE docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$reg_port/v2/" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$reg_port/v2/" >/dev/null || { cat "$work/registry.log"; fail "distribution did not start"; }
create_repo() { # key json
  curl -fsS -u admin:password -X PUT -H 'Content-Type: application/json' -d "$2" "$url/api/repositories/$1" >/dev/null \
    || fail "creating $1"
}
create_repo docker-remote "{\"rclass\":\"remote\",\"packageType\":\"docker\",\"url\":\"http://127.0.0.1:$reg_port\"}"
create_repo docker-virtual '{"rclass":"virtual","packageType":"docker","repositories":["docker-local","docker-remote"],"defaultDeploymentRepo":"docker-local"}'
for spec in "v2s2 amd64" "oci amd64" "oci amd64,arm64" "v2s2 amd64,arm64"; do
  read -r fmt arches <<<"$spec"
  name="upstream/$fmt-${arches//,/-}" src="$work/up-$fmt-$arches" all=() images=0
  want=$("$PYTHON" interop/docker/mkimage.py "$src" 32768 --format "$fmt" --arches "$arches")
  if [ "$fmt" = oci ]; then src="oci:$src:1.0"; else src="dir:$src"; fi
  if [[ $arches == *,* ]]; then all=(--all); images=$(tr ',' '\n' <<<"$arches" | wc -l); fi
  skopeo copy -q "${all[@]}" --dest-tls-verify=false "$src" "docker://127.0.0.1:$reg_port/$name:1.0"
  for via in docker-remote docker-virtual; do
    pull_whole "$via $fmt $arches" "docker://$host/$via/$name:1.0" "$want" "$images"
    ok "$via: skopeo pull of a $fmt $arches image held by distribution, digest $want"
  done
done
curl -fsS -u admin:password "$url/api/storage/docker-remote/upstream/oci-amd64/1.0/manifest.json?properties" | grep -q '"docker.manifest.digest"' \
  || fail "the remote's cache is not laid out as Artifactory does"
kill "$reg_pid"; wait "$reg_pid" 2>/dev/null || true
rm -f "$cache"
skopeo copy -q "${pull_creds[@]}" "docker://$host/docker-remote/upstream/oci-amd64:1.0" "dir:$work/from-cache"
ok "docker-remote: served from its cache with the upstream stopped"
rm -f "$cache"
skopeo copy -q "${push_creds[@]}" "dir:$work/from-cache" "docker://$host/docker-virtual/pushed/via-virtual:1"
curl -fsS -u admin:password "$url/api/storage/docker-local/pushed/via-virtual/1/manifest.json" >/dev/null \
  || fail "a push to the virtual did not land in its default deployment repository"
[ "$(raw_digest --creds admin:password "docker://$host/docker-virtual/pushed/via-virtual:1")" = "$(digest_of "$work/from-cache/manifest.json")" ] \
  || fail "the image pushed through the virtual pulls back different"
ok "docker-virtual: skopeo push lands in docker-local and pulls back"

# The nginx snippet the server generates from its own reverse proxy settings: `nginx -t` takes it,
# and nginx run with it proxies the REST API and, on a port of its own, docker-local (the port
# per repository method), through which skopeo reads an image pushed above.
snip_http=$(free_port); snip_docker=$(free_port)
curl -fsS -u admin:password -X POST -H 'Content-Type: application/json' \
  -d "{\"key\":\"nginx\",\"webServerType\":\"NGINX\",\"artifactoryAppContext\":\"${ctx#/}\",\"publicAppContext\":\"${ctx#/}\",\"serverName\":\"jcr.interop.test\",\"artifactoryServerName\":\"${host%%:*}\",\"artifactoryPort\":${host##*:},\"dockerReverseProxyMethod\":\"PORTPERREPO\",\"useHttp\":true,\"httpPort\":$snip_http,\"reverseProxyRepositories\":{\"reverseProxyRepoConfigs\":[{\"repoRef\":\"docker-local\",\"port\":$snip_docker}]}}" \
  "$url/api/system/configuration/webServer" >/dev/null || fail "saving the reverse proxy settings"
curl -fsS -u admin:password "$url/api/system/configuration/reverseProxy/nginx" > "$work/snippet.conf"
cat > "$work/nginx-snippet.conf" <<EOF
daemon on;
worker_processes 1;
pid $work/nginx-snippet.pid;
error_log $work/nginx-snippet.err;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $work/nginx-snippet-body;
  proxy_temp_path $work/nginx-snippet-proxy;
  include $work/snippet.conf;
}
EOF
nginx -t -c "$work/nginx-snippet.conf" 2>"$work/nginx-t.log" || { cat "$work/nginx-t.log" "$work/snippet.conf"; fail "nginx -t refuses the generated snippet"; }
ok "nginx -t accepts the generated snippet"
nginx -c "$work/nginx-snippet.conf"
[ "$(curl -fsS "http://127.0.0.1:$snip_http$ctx/api/system/ping")" = OK ] || fail "ping through the generated snippet"
want=$(raw_digest --creds admin:password "docker://$host/docker-local/interop/podman:1")
[ "$(raw_digest --creds admin:password "docker://127.0.0.1:$snip_docker/interop/podman:1")" = "$want" ] \
  || fail "skopeo through the generated port-per-repository server"
kill "$(cat "$work/nginx-snippet.pid")"
ok "the generated snippet proxies the API and docker-local on its own port (skopeo, digest $want)"

# Seeding from OCI image layouts: skopeo copies the images pushed above (every format, the
# multi-architecture ones with --all) out into OCI layouts, DIR/docker-local/seeded/<name>/; a
# second server started with --seed-images DIR serves each under its tag with the layout's
# digest, and skopeo pulls it whole.
seed="$work/seed-images"
mkdir -p "$seed/docker-local/seeded"
for spec in "v2s2 amd64" "oci amd64" "oci amd64,arm64" "v2s2 amd64,arm64"; do
  read -r fmt arches <<<"$spec"
  all=(); [[ $arches == *,* ]] && all=(--all)
  skopeo copy -q "${all[@]}" "${pull_creds[@]}" "docker://$host/docker-local/interop/skopeo-$fmt-${arches//,/-}:1.0" \
    "oci:$seed/docker-local/seeded/$fmt-${arches//,/-}:1.0"
done
"$BIN" --bind 127.0.0.1:0 --seed-images "$seed" > "$work/seeded.log" 2>&1 &
seeded_pid=$!
seeded_url=$(ready_url "$work/seeded.log") || fail "the server seeded from OCI layouts did not start"
seeded_host=${seeded_url#http://}; seeded_host=${seeded_host%%/*}
for spec in "v2s2 amd64" "oci amd64" "oci amd64,arm64" "v2s2 amd64,arm64"; do
  read -r fmt arches <<<"$spec"
  name="seeded/$fmt-${arches//,/-}" images=0
  [[ $arches == *,* ]] && images=$(tr ',' '\n' <<<"$arches" | wc -l)
  want=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$seed/docker-local/$name/index.json")
  [ "$(raw_digest --creds admin:password "docker://$seeded_host/docker-local/$name:1.0")" = "$want" ] \
    || fail "seeded $fmt $arches: the tag's manifest is not the layout's"
  pull_whole "seeded $fmt $arches" "docker://$seeded_host/docker-local/$name:1.0" "$want" "$images"
  ok "--seed-images: an OCI layout skopeo wrote from a $fmt $arches image pulls back whole, digest $want"
done
kill "$seeded_pid"; wait "$seeded_pid" 2>/dev/null || true

JCR_URL="$url" JCR_REGISTRIES="repository-path=$host/docker-local,api-path=127.0.0.1:$port_local" \
  "$PYTHON" -m pytest -q interop/docker/test_oras_helm.py
echo "registry interop: all passed"
