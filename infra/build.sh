#!/usr/bin/env bash
# Release build of every function, as Lambda deployment packages, with cargo-lambda:
#
#   infra/build.sh            # arm64 (what template.yaml deploys) when this machine can, else x86_64
#   infra/build.sh --x86-64   # or --arm64: force one
#
# Writes target/lambda/<function>/bootstrap.zip and prints each package's size.
# arm64 needs the aarch64-unknown-linux-gnu Rust target (rustup) and zig as the linker
# (`infra/ensure-tools.sh zig`, ~400 MB from PyPI); `sam build` needs the same. A machine
# without them (CI here: no rustup downloads) builds x86_64 with plain cargo, which checks
# everything a deploy compiles except the target architecture.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

infra/ensure-tools.sh lambda
# shellcheck source=infra/env.sh
source infra/env.sh

arch="${1:-}"
if [[ -z "${arch}" ]]; then
  if can_build_arm64; then
    arch=--arm64
  else
    arch=--x86-64
    echo "build: no aarch64 Rust target or zig here; building x86_64 (template.yaml deploys arm64)"
  fi
fi
compiler=()
# x86_64 on an x86_64 Linux host needs no cross linker: skip zig.
[[ "${arch}" == --x86-64 && "$(uname -m)" == x86_64 ]] && compiler=(--compiler cargo)

functions=()
for manifest in functions/*/Cargo.toml; do
  functions+=(--bin "$(basename "$(dirname "${manifest}")")")
done

start=${SECONDS}
cargo lambda build --release "${arch}" "${compiler[@]}" --output-format zip "${functions[@]}"
echo "build: $((${#functions[@]} / 2)) functions (${arch#--}) in $((SECONDS - start))s"
TARGET="${CARGO_TARGET_DIR:-target}"
for zip in "${TARGET}"/lambda/*/bootstrap.zip; do
  stat -c '%s %n' "${zip}" | awk '{ split($2, p, "/"); printf "  %-24s %6.2f MiB zipped\n", p[length(p) - 1], $1 / 1048576 }'
done
