# shellcheck shell=bash
# Sourced (not run) by test.sh and local-stack.sh: puts the infra/.venv tools on PATH and
# points every AWS SDK (Rust aws-config and boto3 alike) at the local moto server.
# Region is forced: moto keeps tables and SES identities per region, like AWS.
INFRA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="${INFRA_ROOT}/infra/.venv/bin:${PATH}"
export MOTO_PORT="${MOTO_PORT:-4566}"
export AWS_ENDPOINT_URL="http://127.0.0.1:${MOTO_PORT}"
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
unset AWS_SESSION_TOKEN AWS_PROFILE
# No instance-metadata probes (slow time-outs) when something looks for credentials/region.
export AWS_EC2_METADATA_DISABLED=true

# Whether this machine can build the arm64 packages template.yaml deploys: the aarch64 Rust
# target (rustup) and zig as the cross linker (`infra/ensure-tools.sh zig`).
can_build_arm64() {
  rustup target list --installed 2>/dev/null | grep -x aarch64-unknown-linux-gnu >/dev/null && command -v zig >/dev/null
}
