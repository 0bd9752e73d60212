#!/usr/bin/env bash
# What can be checked of a deploy without an AWS account (CI runs this after infra/test.sh):
# SAM's own validation of template.yaml (the transform, offline) and its linter, then the
# release build of every function as Lambda packages (infra/build.sh). A real
# `sam build`/`sam deploy` needs arm64 cross tools and AWS credentials: see README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

step() { printf '\n==> %s\n' "$*"; }

step "sam validate"
infra/ensure-tools.sh sam
# Offline: SAM needs a region and some credentials to start, and calls nothing with them.
(
  unset AWS_ENDPOINT_URL AWS_PROFILE
  export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline SAM_CLI_TELEMETRY=0
  infra/.venv/bin/sam validate --region us-east-1 --template template.yaml
  infra/.venv/bin/sam validate --lint --template template.yaml
)

step "release build of every function"
infra/build.sh
