#!/usr/bin/env bash
# Installs the Python-packaged dev tools into infra/.venv (gitignored).
#
#   infra/ensure-tools.sh [test|lambda|sam|zig|all]...   (default: all = test lambda)
#
#   test   - moto server (DynamoDB, KMS, SES/SESv2, SNS) + boto3, cfn-lint  (CI needs only this)
#   lambda - the cargo-lambda binary (`cargo lambda watch` for infra/local-stack.sh)
#   sam    - the AWS SAM CLI (~350 MB) for `sam validate`, in its own venv (it pins boto3 and
#            friends differently from moto); `sam` is linked into infra/.venv/bin
#   zig    - ziglang (~400 MB), only for cross builds: `cargo lambda build --arm64`, `sam build`
#
# A fresh CI machine only has python3 + pip, so everything comes from PyPI. Each group
# writes a stamp with its exact requirements; when the stamp matches, nothing is run, so
# repeated calls cost a few milliseconds. Bump a pin below and the next call reinstalls.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ROOT}/infra/.venv"

# moto_server needs flask + flask-cors; the `server` extra would also pull docker, cfn-lint,
# graphql, xray, openapi validators... that we don't need. The dynamodb extra adds
# py-partiql-parser (PartiQL) and docker (streams->lambda; unused but small). moto's kms, ses
# and sns extras are empty today (KMS signs with `cryptography`, a core dependency) and sesv2
# has none; listed so future moto deps come along.
REQ_TEST=("moto[dynamodb,kms,ses,sns]==5.2.1" "flask>=3" "flask-cors>=4" "cfn-lint==1.51.0" "argon2-cffi==25.1.0")
# cargo-lambda's wheel depends on ziglang, 400 MB unpacked, that `watch` never uses: skip it.
REQ_LAMBDA=("--no-deps" "cargo-lambda==1.9.2")
REQ_ZIG=("ziglang==0.17.1") # what pip resolves for cargo-lambda 1.9.2
REQ_SAM=("aws-sam-cli==1.170.0")

groups=("${@:-all}")
[[ "${groups[0]}" == all ]] && groups=(test lambda)

if [[ ! -x "${VENV}/bin/python" ]] || ! "${VENV}/bin/python" -c '' 2>/dev/null; then
  echo "ensure-tools: creating ${VENV#"${ROOT}/"} with $(python3 --version 2>&1)"
  rm -rf "${VENV}"
  python3 -m venv "${VENV}"
fi

for group in "${groups[@]}"; do
  venv="${VENV}"
  case "${group}" in
    test) reqs=("${REQ_TEST[@]}") ;;
    lambda) reqs=("${REQ_LAMBDA[@]}") ;;
    zig) reqs=("${REQ_ZIG[@]}") ;;
    sam) reqs=("${REQ_SAM[@]}") venv="${VENV}-sam" ;;
    *) echo "ensure-tools: unknown group '${group}' (use test, lambda, sam, zig or all)" >&2; exit 2 ;;
  esac
  stamp="${venv}/.stamp-${group}"
  if [[ -f "${stamp}" && "$(cat "${stamp}")" == "${reqs[*]}" ]]; then
    continue
  fi
  echo "ensure-tools: installing [${group}] ${reqs[*]}"
  start=${SECONDS}
  [[ -x "${venv}/bin/python" ]] || python3 -m venv "${venv}"
  "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check "${reqs[@]}"
  [[ "${group}" == sam ]] && ln -sf "${venv}/bin/sam" "${VENV}/bin/sam"
  printf '%s' "${reqs[*]}" >"${stamp}"
  echo "ensure-tools: [${group}] ready in $((SECONDS - start))s"
done
