#!/usr/bin/env bash
# Builds the reference server as a static Linux binary (glibc, statically linked) into
# dist/jcr-reference: it starts on a machine with no Rust and in a FROM scratch image.
#
#   bash scripts/build-static.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# The static C library and strip (Debian), where they are missing.
bash scripts/need.sh /usr/lib/x86_64-linux-gnu/libc.a:libc6-dev strip:binutils
target=x86_64-unknown-linux-gnu
RUSTFLAGS="-C target-feature=+crt-static" cargo build -q --release --target "$target" -p jcr-reference
mkdir -p dist
cp "target/$target/release/jcr-reference" dist/jcr-reference
# Symbols and debug information are not needed to run it (and are most of its size).
strip dist/jcr-reference 2>/dev/null || true
# A static PIE (ldd: "statically linked"; kept for address randomisation) or a plain static
# executable (ldd: "not a dynamic executable"): no loader, no shared library.
if ldd dist/jcr-reference 2>&1 | grep -qE "not a dynamic executable|statically linked"; then
  echo "dist/jcr-reference: static ($(du -h dist/jcr-reference | cut -f1))"
else
  echo "dist/jcr-reference is dynamically linked:" >&2
  ldd dist/jcr-reference >&2 || true
  exit 1
fi
