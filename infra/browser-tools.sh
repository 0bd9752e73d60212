#!/usr/bin/env bash
# Installs what the browser tests (tests/browser) need, each part only when missing or when
# its pins below change, so a second call costs milliseconds:
#
#   apt   Debian's chromium (`playwright install` downloads its own browser build, which this
#         workplace cannot fetch) and the smallest fonts that draw the pages' languages:
#         fonts-wqy-microhei (CJK, 5 MB installed; fonts-noto-cjk is 91 MB), fonts-lohit-deva
#         (Devanagari with conjunct shaping, 0.2 MB), fonts-dejavu-core (Latin).
#         --no-install-recommends: chromium's recommends would upgrade systemd and pull perl,
#         CUPS and printer tools (~130 packages) that a headless browser never uses.
#   pip   playwright (its wheel carries its own node driver) and pytest, into infra/.venv; and
#         the relying party of test_oidc.py: Authlib (its OpenID Connect client: discovery, PKCE,
#         the ID token's checks), joserfc (what Authlib verifies JWTs with, against the JWKS) and
#         requests (what its OAuth2Session is), each pinned, not left to what moto brought.
#   npm   axe-core, pinned by tests/browser/package-lock.json, into tests/browser/node_modules.
#
# Needs root (or sudo) for apt, as on CI. Usage: infra/browser-tools.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ROOT}/infra/.venv"
BROWSER_DIR="${ROOT}/tests/browser"

APT_PACKAGES=(chromium fonts-wqy-microhei fonts-lohit-deva fonts-dejavu-core)
REQ_BROWSER=("playwright==1.65.2" "pytest==9.2.0" "authlib==1.9.10" "joserfc==1.8.0" "requests==2.34.2")

now_ms() { echo $(( ${EPOCHREALTIME//[!0-9]/} / 1000 )); } # µs, whatever the locale's decimal mark
took() { echo "browser-tools: $1 ready in $(( ($(now_ms) - $2) )) ms"; }
total_start=$(now_ms)

# apt: dpkg's own record is the stamp (a query costs ~20 ms), so a removed package is noticed.
# No npm on the machine (the rust machines ship nodejs with npm): Debian's npm brings it.
command -v npm >/dev/null || APT_PACKAGES+=(npm)
missing=()
for package in "${APT_PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "${package}" 2>/dev/null || true)"
  [[ "${status}" == installed ]] || missing+=("${package}")
done
if ((${#missing[@]})); then
  echo "browser-tools: apt-get install ${missing[*]}"
  start=$(now_ms)
  sudo=()
  [[ "$(id -u)" == 0 ]] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  # nice: the machine has 2 cores, often shared with a cargo build.
  nice "${sudo[@]}" apt-get update -qq
  nice "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  took "apt (${missing[*]})" "${start}"
fi

# pip: a stamp with the exact requirements, as infra/ensure-tools.sh keeps for its groups.
[[ -x "${VENV}/bin/python" ]] || "${ROOT}/infra/ensure-tools.sh" test
stamp="${VENV}/.stamp-browser"
if [[ ! -f "${stamp}" || "$(cat "${stamp}")" != "${REQ_BROWSER[*]}" ]]; then
  echo "browser-tools: pip install ${REQ_BROWSER[*]}"
  start=$(now_ms)
  nice "${VENV}/bin/python" -m pip install --quiet --disable-pip-version-check "${REQ_BROWSER[@]}"
  printf '%s' "${REQ_BROWSER[*]}" >"${stamp}"
  took "pip (${REQ_BROWSER[*]})" "${start}"
fi

# npm: the stamp is the lock file's hash; `npm ci` empties node_modules first, so it is
# written after. --ignore-scripts: axe-core has none, and nothing should run at install.
stamp="${BROWSER_DIR}/node_modules/.stamp"
lock_hash="$(sha256sum "${BROWSER_DIR}/package-lock.json" | cut -d' ' -f1)"
if [[ ! -f "${stamp}" || "$(cat "${stamp}")" != "${lock_hash}" ]]; then
  echo "browser-tools: npm ci in tests/browser (axe-core)"
  start=$(now_ms)
  (cd "${BROWSER_DIR}" && nice npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  printf '%s' "${lock_hash}" >"${stamp}"
  took "npm (axe-core $(node -p "require('${BROWSER_DIR}/node_modules/axe-core/package.json').version"))" "${start}"
fi

echo "browser-tools: all ready in $(( $(now_ms) - total_start )) ms (chromium $(dpkg-query -W -f='${Version}' chromium))"
