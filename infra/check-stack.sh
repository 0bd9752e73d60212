#!/usr/bin/env bash
# What can be checked of a deploy without an AWS account (CI runs this after infra/test.sh):
# SAM's own validation of template.yaml (the transform, offline) and its linter, the
# release build of every function as Lambda packages (infra/build.sh), then `sam build`
# of the template, offline. Only `sam deploy` needs an AWS account: see README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

step() { printf '\n==> %s\n' "$*"; }

# Offline: SAM needs a region and some credentials to start, and calls nothing with them.
sam_offline() {
  (
    unset AWS_ENDPOINT_URL AWS_PROFILE
    export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline SAM_CLI_TELEMETRY=0
    infra/.venv/bin/sam "$@"
  )
}

step "sam validate"
infra/ensure-tools.sh sam
sam_offline validate --region us-east-1 --template template.yaml
sam_offline validate --lint --template template.yaml

step "release build of every function"
infra/build.sh

step "sam build"
# What the deploy workflow runs, with its config file: cargo-lambda once per function,
# through SAM's rust-cargolambda builder (a beta feature), reusing the build above. A machine
# that cannot cross-compile to arm64 builds a copy of the template that differs only in
# Architectures (x86_64), with plain cargo as cargo-lambda's compiler.
# shellcheck source=infra/env.sh
source infra/env.sh
TARGET="${CARGO_TARGET_DIR:-${ROOT}/target}"
template=template.yaml
if ! can_build_arm64; then
  mkdir -p "${TARGET}/sam"
  template="${TARGET}/sam/template-x86_64.yaml"
  sed 's/^    Architectures: \[arm64\]$/    Architectures: [x86_64]/' template.yaml >"${template}"
  grep -q '^    Architectures: \[x86_64\]$' "${template}" || {
    echo "sam build: template.yaml has no line '    Architectures: [arm64]' to replace" >&2
    exit 1
  }
  export CARGO_LAMBDA_COMPILER=cargo
  echo "sam build: no aarch64 Rust target or zig here; building ${template} (x86_64)"
fi
sam_offline build --config-file "${ROOT}/infra/samconfig.toml" --config-env dev \
  --template "${template}" --base-dir "${ROOT}" --build-dir "${TARGET}/sam/build"
ls -l "${TARGET}"/sam/build/*/bootstrap | awk '{ printf "  %-32s %6.2f MiB\n", $NF, $5 / 1048576 }'
