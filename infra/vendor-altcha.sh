#!/usr/bin/env bash
# Vendors the ALTCHA widget (npm `altcha`, pinned below) into functions/web/assets/vendor/altcha:
# the bundle without inline workers or injected styles (so the pages' CSP needs no `blob:`,
# nonce or 'unsafe-inline'), its stylesheet, the solver workers of the challenges
# `GET /v1/captcha` issues (Argon2id for Proof-of-Work v2, whose WebAssembly needs
# 'wasm-unsafe-eval' in the worker's own CSP; SHA-256 for v1, with CAPTCHA_ALTCHA_V1) and the
# Chinese and Hindi texts. npm checks the package's integrity against the registry; the files
# are committed, so builds need no npm.
#
#   infra/vendor-altcha.sh     (run after changing VERSION, then commit the files)
set -euo pipefail

VERSION=3.2.2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${ROOT}/functions/web/assets/vendor/altcha"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

(cd "${work}" && npm pack --silent "altcha@${VERSION}" >/dev/null && tar -xzf "altcha-${VERSION}.tgz")
dist="${work}/package/dist"
rm -rf "${DEST}"
mkdir -p "${DEST}"
cp "${dist}/external/altcha.min.js" "${DEST}/altcha.min.js"
cp "${dist}/external/altcha.css" "${DEST}/altcha.css"
cp "${dist}/workers/argon2id.js" "${DEST}/argon2id.worker.js"
cp "${dist}/workers/sha.js" "${DEST}/sha.worker.js"
cp "${dist}/i18n/zh-cn.js" "${DEST}/zh-cn.js"
cp "${dist}/i18n/hi.js" "${DEST}/hi.js"
cp "${work}/package/LICENSE.txt" "${DEST}/LICENSE.txt"
printf 'altcha %s (npm), copied by infra/vendor-altcha.sh\n' "${VERSION}" >"${DEST}/VERSION"
ls -l "${DEST}"
