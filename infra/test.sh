#!/usr/bin/env bash
# The one test command, locally and in CI (.ci/run): lint, then the whole workspace's tests
# against moto. Stops at the first failure with a non-zero exit.
#
# Tests see AWS_ENDPOINT_URL/AWS_REGION/credentials for moto (infra/env.sh) and create
# their own uniquely named tables from template.yaml; moto is shared by all tests of the run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

step() { printf '\n==> %s\n' "$*"; }

step "tools"
infra/ensure-tools.sh test
# shellcheck source=infra/env.sh
source infra/env.sh

# Cheap checks first, so a formatting slip fails in seconds rather than after a build.
step "cargo fmt --check"
cargo fmt --all -- --check
step "cfn-lint template.yaml"
cfn-lint template.yaml
step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "moto"
started_moto=false
if ! infra/moto.sh status; then
  infra/moto.sh start
  started_moto=true
fi
# Only stop a server this run started; a developer's long-running one stays up.
trap '$started_moto && infra/moto.sh stop' EXIT

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  # nextest skips doc tests; there are none worth a second runner yet.
  cargo nextest run --workspace --no-tests=warn
else
  cargo test --workspace
fi

step "end to end through cargo lambda watch"
infra/ensure-tools.sh lambda
python tests/e2e_local_stack.py

step "browser tests (tests/browser, Chromium against the local stack)"
tests/browser/run.sh
