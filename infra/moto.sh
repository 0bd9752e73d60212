#!/usr/bin/env bash
# Local AWS (DynamoDB, SES/SESv2, SNS) via moto's server (one request at a time) on 127.0.0.1:$MOTO_PORT (4566).
#
#   infra/moto.sh start    start in the background unless a moto already answers; wait until ready
#   infra/moto.sh stop     stop the server that `start` launched (never one started elsewhere)
#   infra/moto.sh status   exit 0 when a moto answers
#
# Log: target/moto/moto.log. The pid file marks "ours", so stop never kills a foreign server.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${MOTO_PORT:-4566}"
URL="http://127.0.0.1:${PORT}/moto-api/config" # cheap, and only moto serves it
DIR="${ROOT}/target/moto"
PID_FILE="${DIR}/moto.pid"
LOG="${DIR}/moto.log"

answers() { curl -sf -o /dev/null --max-time 1 "${URL}"; }

ours() { [[ -f "${PID_FILE}" ]] && kill -0 "$(cat "${PID_FILE}")" 2>/dev/null; }

start() {
  if answers; then
    echo "moto: already running on port ${PORT}"
    return 0
  fi
  if [[ ! -x "${ROOT}/infra/.venv/bin/moto_server" ]]; then
    echo "moto: moto_server missing; run infra/ensure-tools.sh test" >&2
    return 1
  fi
  mkdir -p "${DIR}"
  # setsid: own session, so a Ctrl-C meant for the foreground job doesn't take moto down.
  # moto_serial.py: moto's server answering one request at a time, as DynamoDB serialises
  # writes to an item (see that file); so concurrency tests hold on moto as on AWS.
  setsid "${ROOT}/infra/.venv/bin/python" "${ROOT}/infra/moto_serial.py" 127.0.0.1 "${PORT}" >"${LOG}" 2>&1 </dev/null &
  echo $! >"${PID_FILE}"
  for _ in $(seq 1 100); do # up to ~20 s; a warm start takes about 1 s
    if answers; then
      echo "moto: started on port ${PORT} (pid $(cat "${PID_FILE}"), log ${LOG#"${ROOT}/"})"
      return 0
    fi
    if ! ours; then break; fi
    sleep 0.2
  done
  echo "moto: failed to start; last lines of ${LOG}:" >&2
  tail -n 20 "${LOG}" >&2 || true
  stop >/dev/null
  return 1
}

stop() {
  if ours; then
    local pid
    pid="$(cat "${PID_FILE}")"
    kill "${pid}"
    for _ in $(seq 1 50); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
    kill -0 "${pid}" 2>/dev/null && kill -9 "${pid}"
    echo "moto: stopped (pid ${pid})"
  fi
  rm -f "${PID_FILE}"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) answers ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
