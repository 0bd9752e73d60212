#!/usr/bin/env bash
# Benchmarks of issue #7, side by side, in one command: builds the release binaries (every
# function, plus two reference binaries and the argon2 probe of tests/bench/), runs the AWS
# round-trip test, then tests/bench/bench.py, then the load run of tests/bench/load.py (issue 16;
# BENCH_SKIP_LOAD=1 skips it), which writes the numbers into
# tests/bench/RESULTS.md (between its `generated` markers; the findings around them are kept).
#
#   tests/bench/run.sh [bench.py flags: --cold-runs 20 --requests 200 --concurrency 4 --only cold,sizes]
#
# Runs its own moto on 127.0.0.1:${BENCH_MOTO_PORT:-4599} for the whole run and stops it after:
# a moto shared with other test runs makes timings meaningless (one client's data.json dump
# stalls everyone). Installs what it needs: the infra/.venv tools (infra/ensure-tools.sh test),
# and GNU time and strace with apt-get when they are missing.
# About 10 minutes on 2 cores once the release build is cached; the first release build
# (fat LTO, one codegen unit, per binary) takes longer. BENCH_SKIP_BUILD=1 reuses the binaries;
# BENCH_BIN_DIR=<dir> takes them from another directory (e.g. a build with symbols kept, for
# size breakdowns: sizes are always measured after strip(1)).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "${ROOT}"

step() { printf '\n==> %s\n' "$*"; }

if ! grep -q 'name = "bench-bare-hello"' tests/Cargo.toml; then
  echo "run.sh: tests/Cargo.toml lacks the bench binaries ([[bin]] bench-bare-hello, bench-bare-dynamodb," >&2
  echo "        bench-argon2) and round_trips' dev-dependencies; see tests/bench/RESULTS.md, 'How to run'." >&2
  exit 2
fi

step "tools"
infra/ensure-tools.sh test
# GNU time (argon2's peak memory) and strace (the file/socket trace) come from the distribution.
missing=()
[[ -x /usr/bin/time ]] || missing+=(time)
command -v strace >/dev/null || missing+=(strace)
if ((${#missing[@]})); then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq "${missing[@]}"
  else
    echo "run.sh: install ${missing[*]} (Debian/Ubuntu: apt-get install ${missing[*]})" >&2
    exit 2
  fi
fi
# shellcheck source=infra/env.sh
source infra/env.sh
TARGET="${CARGO_TARGET_DIR:-${ROOT}/target}"
WORK="${TARGET}/bench"
mkdir -p "${WORK}"

if [[ "${BENCH_SKIP_BUILD:-}" != 1 ]]; then
  # Functions on their own, so no test-only feature of a shared dependency leaks into them.
  step "cargo build --release (functions)"
  nice cargo build --release --workspace --exclude integration-tests --bins
  step "cargo build --release (reference binaries of tests/bench)"
  nice cargo build --release -p integration-tests --features bench --bin bench-bare-hello --bin bench-bare-dynamodb --bin bench-argon2
fi

step "moto, private to this run"
BENCH_MOTO_PORT="${BENCH_MOTO_PORT:-4599}"
moto_url="http://127.0.0.1:${BENCH_MOTO_PORT}/moto-api/config"
if curl -sf -o /dev/null --max-time 1 "${moto_url}"; then
  echo "run.sh: something already answers on port ${BENCH_MOTO_PORT}; set BENCH_MOTO_PORT" >&2
  exit 2
fi
infra/.venv/bin/moto_server -H 127.0.0.1 -p "${BENCH_MOTO_PORT}" >"${WORK}/moto.log" 2>&1 </dev/null &
moto_pid=$!
stop_moto() {
  kill "${moto_pid}" 2>/dev/null || return 0
  for _ in $(seq 1 25); do kill -0 "${moto_pid}" 2>/dev/null || return 0; sleep 0.2; done
  kill -9 "${moto_pid}" 2>/dev/null || true # busy answering a request it will never send
}
trap stop_moto EXIT
for _ in $(seq 1 100); do
  curl -sf -o /dev/null --max-time 1 "${moto_url}" && break
  kill -0 "${moto_pid}" 2>/dev/null || { tail -n 20 "${WORK}/moto.log" >&2; exit 1; }
  sleep 0.2
done
export MOTO_PORT="${BENCH_MOTO_PORT}" AWS_ENDPOINT_URL="http://127.0.0.1:${BENCH_MOTO_PORT}" BENCH_PRIVATE_MOTO=1
echo "moto: pid ${moto_pid} on port ${BENCH_MOTO_PORT} (log ${WORK#"${ROOT}/"}/moto.log)"

step "AWS round trips per route (tests/tests/api/round_trips.rs)"
round_trips() {
  rm -f "${WORK}/round_trips.jsonl"
  ROUND_TRIPS_LOG="${WORK}/round_trips.jsonl" nice cargo test -p integration-tests --test api round_trips::
}
# Once more on failure: moto's /moto-api/data.json (the harness's outbox) has answered 500 under
# concurrent writes. A count that differs fails both times.
round_trips || { echo "run.sh: round_trips failed; once more" >&2; round_trips; }

step "cold starts, warm latency, sizes, argon2 (tests/bench/bench.py)"
python tests/bench/bench.py --bin-dir "${BENCH_BIN_DIR:-${TARGET}/release}" --work-dir "${WORK}" \
  --round-trips "${WORK}/round_trips.jsonl" "$@"

if [[ "${BENCH_SKIP_LOAD:-}" != 1 ]]; then
  # Its own moto, fault proxy and local stack (debug builds, as `cargo lambda watch` serves them).
  step "load under injected throttling (tests/bench/load.py), light and heavy"
  infra/ensure-tools.sh lambda
  python tests/bench/load.py --journeys 60 --concurrency 6 --dynamodb-throttle 0.05 --ses-throttle 0.2
  python tests/bench/load.py --journeys 60 --concurrency 6 --dynamodb-throttle 0.3 --ses-throttle 0.5
fi
echo "run.sh: results in tests/bench/RESULTS.md (raw numbers: ${WORK#"${ROOT}/"}/results.json)"
