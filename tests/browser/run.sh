#!/usr/bin/env bash
# Runs the browser tests (tests/browser) against the local stack.
#
#   tests/browser/run.sh [pytest args, e.g. -k sign_up -x]
#
# With BROWSER_BASE_URL set, the tests use that server and it must already answer. Otherwise:
# a stack already answering on 127.0.0.1:${LOCAL_API_PORT:-9000} is used as it is; else this
# starts infra/local-stack.sh on a fresh table (output in target/browser-local-stack.log) and
# stops it at the end, and moto too when it was not running before.
# Exits with pytest's status; "no tests collected" (5) is a failure like any non-zero one. Failed
# tests are run once more (BROWSER_NO_RERUN=1: not), and must pass then; the log names them FLAKY.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "${ROOT}"

infra/browser-tools.sh
# shellcheck source=infra/env.sh
source infra/env.sh # AWS_ENDPOINT_URL: where conftest.py reads the codes moto "sent"

explicit="${BROWSER_BASE_URL:-}"
export BROWSER_BASE_URL="${BROWSER_BASE_URL:-http://127.0.0.1:${LOCAL_API_PORT:-9000}}"
# The stack's table: test_oidc.py registers its apps there (register-client). A stack already
# running is taken to use local-stack.sh's default; one started below gets a fresh table.
export BROWSER_TABLE_NAME="${BROWSER_TABLE_NAME:-${LOCAL_TABLE_NAME:-accounts-local}}"

# Any answer below 500 from the CAPTCHA route and the sign-up page: the functions are built and
# serving (watch starts a function's process on its first request, so this also warms them).
answers() {
  local status path
  for path in /v1/captcha /signup; do
    status="$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 "${BROWSER_BASE_URL}${path}" || true)"
    [[ "${status}" =~ ^[1-4][0-9][0-9]$ ]] || return 1
  done
}

stack=""
moto_was_up=true
log="target/browser-local-stack.log"
stop_stack() {
  [[ -n "${stack}" ]] || return 0
  # local-stack.sh runs in its own session (setsid): its group holds watch, cargo and the
  # courier; moto is in a session of its own and is stopped through moto.sh.
  kill -TERM -- "-${stack}" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 -- "-${stack}" 2>/dev/null || break
    sleep 0.5
  done
  kill -KILL -- "-${stack}" 2>/dev/null || true
  "${moto_was_up}" || infra/moto.sh stop || true
  echo "browser: local stack stopped"
}
trap stop_stack EXIT

if answers; then
  echo "browser: using ${BROWSER_BASE_URL}"
elif [[ -n "${explicit}" ]]; then
  echo "browser: BROWSER_BASE_URL=${explicit} does not answer; unset it to start the local stack" >&2
  exit 1
else
  infra/moto.sh status >/dev/null 2>&1 || moto_was_up=false
  mkdir -p target
  table="accounts-browser-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
  BROWSER_TABLE_NAME="${table}"
  echo "browser: starting infra/local-stack.sh on table ${table} (output in ${log})"
  # Every page of every test comes from 127.0.0.1: the per-IP limit of codes (30 an hour, tested
  # in tests/tests/api) would refuse the suite's later journeys, so it is raised here alone.
  # --ignore-changes: nothing the tests touch should restart a function mid-page (watch restarts
  # them on any change in the tree that .gitignore does not name).
  CODES_PER_IP_PER_HOUR="${CODES_PER_IP_PER_HOUR:-1000}" LOCAL_TABLE_NAME="${table}" setsid infra/local-stack.sh --ignore-changes >"${log}" 2>&1 </dev/null &
  stack=$!
  start=${SECONDS}
  # Up to 15 minutes: the first build of every function takes minutes on 2 cores.
  until answers; do
    if ! kill -0 "${stack}" 2>/dev/null; then
      echo "browser: local-stack.sh exited before serving; the end of ${log}:" >&2
      grep -v 'run{config=' "${log}" | tail -n 40 | cut -c1-400 >&2
      exit 1
    fi
    if ((SECONDS - start > 900)); then
      echo "browser: ${BROWSER_BASE_URL}/v1/captcha did not answer within 15 minutes; see ${log}" >&2
      exit 1
    fi
    sleep 2
  done
  echo "browser: local stack serving ${BROWSER_BASE_URL} after $((SECONDS - start))s"
fi

status=0
# Nothing written into the tree while the tests run: `cargo lambda watch` restarts the functions
# on any change there (a .pytest_cache or __pycache__ did, and answered 500s meanwhile).
if [[ -n "${BROWSER_RUN_SCRIPT:-}" ]]; then
  # Another program against the same stack (tests/browser/budgets.sh runs budgets.py so).
  PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=tests/browser infra/.venv/bin/python "${BROWSER_RUN_SCRIPT}" "$@" || status=$?
  exit "${status}"
fi
# pytest's cache (which tests failed) outside the tree, for the one rerun below.
cache="$(mktemp -d)"
pytest_run() {
  PYTHONDONTWRITEBYTECODE=1 infra/.venv/bin/python -m pytest -o cache_dir="${cache}" tests/browser -q "$@"
}
pytest_run "$@" || status=$?
if ((status == 1)) && [[ -z "${BROWSER_NO_RERUN:-}" ]]; then
  # Once more, the failed tests only: `cargo lambda watch` now and then answers a request with a
  # 500 of its own (in ~5 ms, no function logged it; seen twice on 2026-12-04). A test that
  # fails again fails the run; one that passes is named here as a flake to look into.
  echo "browser: rerunning the failed tests once (the first run's failures are above)" >&2
  status=0
  pytest_run --last-failed --last-failed-no-failures none "$@" || status=$?
  ((status == 0)) && echo "browser: FLAKY: the tests above failed once and passed when run again" >&2
fi
rm -rf "${cache}"
if ((status == 5)); then
  echo "browser: pytest collected no tests: that is a failure" >&2
elif ((status != 0)) && [[ -n "${stack}" ]]; then
  # What the stack said about errors while the tests ran (CI keeps only this output).
  echo "browser: the stack's errors, panics and restarts (${log}):" >&2
  grep -v 'run{config=' "${log}" | grep -i -E 'error|panic|restart|change|timed out|5[0-9][0-9] ' | tail -n 40 | cut -c1-400 >&2 || true
fi
exit "${status}"
