#!/usr/bin/env bash
# Measures the pages' budgets (tests/browser/budgets.py) against the local stack: a run by hand
# for the notes, not part of the test command (Lighthouse is 110 MB of npm packages).
#
#   tests/browser/budgets.sh
#
# Installs Lighthouse from tests/browser/budgets/package-lock.json when missing (12.2.3: the last
# that runs on Debian's Node 20), then reuses run.sh's stack handling by running through it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${ROOT}/tests/browser/budgets"
stamp="${DIR}/node_modules/.stamp"
lock_hash="$(sha256sum "${DIR}/package-lock.json" | cut -d' ' -f1)"
if [[ ! -f "${stamp}" || "$(cat "${stamp}")" != "${lock_hash}" ]]; then
  (cd "${DIR}" && nice npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  printf '%s' "${lock_hash}" >"${stamp}"
fi
BROWSER_RUN_SCRIPT="tests/browser/budgets.py" exec "${ROOT}/tests/browser/run.sh"
