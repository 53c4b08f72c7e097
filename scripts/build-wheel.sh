#!/usr/bin/env bash
# Builds the Python wheel (python/: the pytest plugin and the server binary, with maturin's bin
# bindings) into target/wheels/. The binary is the static one of scripts/build-static.sh, built
# with the same target and flags, so the two builds share one set of compiled dependencies and the
# wheel needs no particular glibc (tagged manylinux_2_5).
#
#   pip install maturin && bash scripts/build-wheel.sh && pip install target/wheels/jcr_reference-*.whl
set -euo pipefail
cd "$(dirname "$0")/.."
maturin=${MATURIN:-maturin}
[[ $maturin == */* ]] && maturin=$(realpath "$maturin")
bash scripts/build-static.sh
rm -rf target/wheels
(cd python && RUSTFLAGS="-C target-feature=+crt-static" "$maturin" build --release -q \
  --target x86_64-unknown-linux-gnu -o ../target/wheels)
ls target/wheels/jcr_reference-*.whl
