#!/usr/bin/env bash
# Installs the Debian packages that provide what is missing. Each argument is WHAT:PACKAGE, WHAT a
# command looked up on PATH or an absolute path of a file:
#
#   bash scripts/need.sh skopeo:skopeo /usr/lib/x86_64-linux-gnu/libc.a:libc6-dev
set -euo pipefail
pkgs=()
for arg in "$@"; do
  what=${arg%:*} pkg=${arg##*:}
  if [[ $what == /* ]]; then [ -e "$what" ] && continue; else command -v "$what" >/dev/null && continue; fi
  pkgs+=("$pkg")
done
[ ${#pkgs[@]} -eq 0 ] && exit 0
sudo=(); [ "$(id -u)" = 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get install -y -q "${pkgs[@]}" >/dev/null 2>&1 \
  || { "${sudo[@]}" apt-get update -q >/dev/null && "${sudo[@]}" apt-get install -y -q "${pkgs[@]}" >/dev/null; }
