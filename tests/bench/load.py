#!/usr/bin/env python3
"""A bounded load run against the local stack, with a share of AWS calls failing.

Starts a private moto (infra/moto.sh, serial as in the tests), tests/fault_proxy.py in front of
it and infra/local-stack.sh with the functions pointed at the proxy (loopback only), then runs
`--journeys` sign-up journeys, `--concurrency` at a time: request an email code, read it as SES
received it, confirm it, create the account (with an Idempotency-Key), sign in. While they run, the
proxy throttles `--dynamodb-throttle` of DynamoDB calls and `--ses-throttle` of SES sends. A
client does what the API asks: on 503 or 429 it waits `Retry-After` and sends the same request
again (at most 8 times). It stops by itself.

Then it checks what must hold: no 500 at all; every journey ended with an account that signs
in; each person received exactly one code and one new-device notice (nothing lost, nothing
twice: read from what SES accepted, as the proxy saw it); accounts and contact claims match.
An outbox item left behind is a message sent whose DeleteItem was throttled, left to its TTL
(the exact message counts show it was sent once). It prints throughput and p50/p99 per route
and moto's own cost per call, and writes them between the `load` markers of
tests/bench/RESULTS.md (one section per set of flags).

  tests/bench/load.py [--journeys 60 --concurrency 6 --dynamodb-throttle 0.05 --ses-throttle 0.2]

Needs the infra/.venv tools (infra/ensure-tools.sh test lambda). The first run builds the
functions (debug, as `cargo lambda watch` serves them): the numbers are those of debug builds
on moto, for comparing runs on one machine, not a forecast of AWS.
"""

import argparse
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Tr0ub4dor&3-horse"
MOTO_PORT, PROXY_PORT, API_PORT = 4597, 4596, 9100
MOTO = f"http://127.0.0.1:{MOTO_PORT}"
PROXY = f"http://127.0.0.1:{PROXY_PORT}"
API = f"http://127.0.0.1:{API_PORT}"

latencies = {}  # route -> [seconds of each answered attempt]
statuses = {}  # status -> count
lock = threading.Lock()


def record(route, status, seconds):
    with lock:
        latencies.setdefault(route, []).append(seconds)
        status = "no answer" if status is None else status
        statuses[status] = statuses.get(status, 0) + 1


def http(method, url, body=None, headers=None, timeout=60):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read() or b"null"), answer.headers
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw or b"null"), error.headers
        except ValueError:
            return error.code, raw.decode(errors="replace"), error.headers
    except (TimeoutError, ConnectionError, urllib.error.URLError) as error:
        return None, f"no answer: {error}", {}


def call(route, method, path, body=None, headers=None):
    """The client the API asks for: the same request again after Retry-After on 503 and 429, and
    after no answer at all only with an Idempotency-Key (elsewhere it could act twice)."""
    retried = (429, 503, None) if "Idempotency-Key" in (headers or {}) else (429, 503)
    for _ in range(8):
        started = time.perf_counter()
        status, answer, answer_headers = http(method, API + path, body, headers)
        record(route, status, time.perf_counter() - started)
        if status not in retried:
            return status, answer
        time.sleep(min(float(answer_headers.get("Retry-After") or 1), 5))
    return status, answer


class Mailbox:
    """The emails SES accepted, as the fault proxy in front of moto saw them (its /__sent). Not
    moto's data.json: that dump of all of moto's state holds moto, which answers one request at
    a time, for seconds once the tables are large, and starved the service's calls."""

    def sent_to(self, address):
        with urllib.request.urlopen(PROXY + "/__sent", timeout=60) as answer:
            emails = json.loads(answer.read())["emails"]
        return [email["text"] for email in emails if address in email["to"]]

    def wait_for_code(self, address, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            code = next((c for c in map(code_in, self.sent_to(address)) if c), None)
            if code:
                return code
            time.sleep(0.3)
        return None


mailbox = None


def code_in(text):
    return next((w.strip(".,") for w in text.split() if w.strip(".,").isdigit() and len(w.strip(".,")) == 6), None)


def journey(n):
    email = f"load.{n}.{secrets.token_hex(4)}@example.com"
    status, sent = call("POST /v1/verifications", "POST", "/v1/verifications", {"channel": "email", "email": email, "purpose": "sign_up"})
    if status != 202:
        return email, f"request {status} {sent}"
    code = mailbox.wait_for_code(email, 90)
    if code is None:
        return email, "no code arrived"
    status, confirmed = call("POST /v1/verifications/{id}/confirm", "POST", f"/v1/verifications/{sent['verification_id']}/confirm", {"code": code})
    if status != 200:
        return email, f"confirm {status} {confirmed}"
    body = {"verification_token": confirmed["verification_token"], "password": PASSWORD, "accept_terms": True}
    status, created = call("POST /v1/accounts", "POST", "/v1/accounts", body, {"Idempotency-Key": f"load-{n}-{secrets.token_hex(4)}"})
    if status != 201:
        return email, f"create {status} {created}"
    status, session = call("POST /v1/sessions", "POST", "/v1/sessions", {"login": email, "password": PASSWORD})
    if status != 201:
        return email, f"sign-in {status} {session}"
    return email, None


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def consistency(table):
    import boto3

    dynamodb = boto3.client("dynamodb", endpoint_url=MOTO)
    items, start = [], {}
    while True:
        page = dynamodb.scan(TableName=table, ConsistentRead=True, **start)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
    held = {(i["primary_contact"]["S"].lower(), i["pk"]["S"][4:]) for i in items if i["pk"]["S"].startswith("ACC#") and i["sk"]["S"] == "ACC"}
    claimed = {(i["pk"]["S"][3:], i["account_id"]["S"]) for i in items if i["pk"]["S"].startswith("ID#")}
    waiting = [i for i in items if i["pk"]["S"].startswith("OUT#")]
    return held, claimed, waiting


def moto_cost(table, samples=50):
    import boto3

    dynamodb = boto3.client("dynamodb", endpoint_url=MOTO)
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        dynamodb.get_item(TableName=table, Key={"pk": {"S": "LOAD#none"}, "sk": {"S": "X"}}, ConsistentRead=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def write_results(text):
    """Between the `load` markers of RESULTS.md: one section per set of flags, this run's
    replacing an earlier one with the same heading, others kept."""
    path = ROOT / "tests" / "bench" / "RESULTS.md"
    doc = path.read_text()
    begin, end = "<!-- load:begin -->", "<!-- load:end -->"
    if begin not in doc:
        doc = doc.rstrip() + f"\n\n{begin}\n{end}\n"
    head, rest = doc.split(begin, 1)
    block, tail = rest.split(end, 1)
    sections = [s.strip() for s in block.split("#### ") if s.strip().startswith("Load run")]
    heading = text.split("\n", 1)[0].removeprefix("#### ")
    sections = [s for s in sections if s.split("\n", 1)[0] != heading] + [text.removeprefix("#### ")]
    block = "\n\n".join("#### " + s for s in sections)
    path.write_text(f"{head}{begin}\n{block}\n{end}{tail}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--dynamodb-throttle", type=float, default=0.05)
    parser.add_argument("--ses-throttle", type=float, default=0.2)
    args = parser.parse_args()

    table = f"accounts-load-{secrets.token_hex(4)}"
    # As infra/env.sh sets them for the stack, for this script's own boto3 reads of moto.
    os.environ.update(AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="test",
                      AWS_SECRET_ACCESS_KEY="test")
    env = dict(os.environ, MOTO_PORT=str(MOTO_PORT), AWS_ENDPOINT_URL=MOTO)
    venv = ROOT / "infra" / ".venv" / "bin"
    env["PATH"] = f"{venv}:{env['PATH']}"
    subprocess.run([str(ROOT / "infra" / "moto.sh"), "start"], env=env, check=True, stdout=subprocess.DEVNULL)
    proxy = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fault_proxy.py"), "--port", str(PROXY_PORT), "--upstream", MOTO])
    stack_env = dict(
        env, LOCAL_TABLE_NAME=table, LOCAL_API_PORT=str(API_PORT), LOCAL_AWS_ENDPOINT_URL=PROXY,
        CAPTCHA_PROVIDER="off", CODES_PER_IP_PER_HOUR="1000000", SIGN_IN_FAILURES_PER_IP="1000000", RUST_LOG="warn",
    )
    log = open(ROOT / "target" / "load-local-stack.log", "w")
    stack = subprocess.Popen([str(ROOT / "infra" / "local-stack.sh")], cwd=ROOT, env=stack_env, stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.time() + 1200
        while True:  # every function started once (4xx answers change nothing)
            paths = ("/v1/verifications", "/v1/verifications/x/confirm", "/v1/accounts", "/v1/sessions")
            if all((http("POST", API + path, {})[0] or 500) < 500 for path in paths):  # None: not up yet
                break
            if time.time() > deadline or stack.poll() is not None:
                raise SystemExit("load: the local stack did not come up (target/load-local-stack.log)")
            time.sleep(2)
        latencies.clear()
        statuses.clear()
        rules = [
            {"operation": "dynamodb:", "fault": "throttle", "rate": args.dynamodb_throttle},
            {"operation": "sesv2:SendEmail", "fault": "throttle", "rate": args.ses_throttle},
        ]
        http("PUT", PROXY + "/__faults", {"rules": rules})
        global mailbox
        mailbox = Mailbox()
        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            outcomes = list(pool.map(journey, range(args.journeys)))
        elapsed = time.perf_counter() - started
        _, proxy_state, _ = http("PUT", PROXY + "/__faults", {"rules": []})
        time.sleep(3)  # the courier's last retries

        failed = [(email, why) for email, why in outcomes if why]
        received = {email: len(mailbox.sent_to(email)) for email, _ in outcomes}
        wrong_count = {e: n for e, n in received.items() if n != 2}
        held, claimed, waiting = consistency(table)
        cost = moto_cost(table)
    finally:
        os.killpg(stack.pid, signal.SIGTERM)
        stack.wait(timeout=60)
        proxy.terminate()
        subprocess.run([str(ROOT / "infra" / "moto.sh"), "stop"], env=env, stdout=subprocess.DEVNULL)

    faulted = proxy_state["faulted"]
    lines = [
        f"#### Load run: {args.journeys} sign-up journeys, {args.concurrency} at a time, "
        f"{args.dynamodb_throttle:.0%} of DynamoDB calls and {args.ses_throttle:.0%} of SES sends throttled",
        "",
        f"`tests/bench/load.py --journeys {args.journeys} --concurrency {args.concurrency} "
        f"--dynamodb-throttle {args.dynamodb_throttle} --ses-throttle {args.ses_throttle}` (debug builds under "
        f"`cargo lambda watch`, moto on loopback; {time.strftime('%Y-%m-%d')}).",
        "",
        f"- {args.journeys - len(failed)} of {args.journeys} journeys done in {elapsed:.1f} s: "
        f"{(args.journeys - len(failed)) / elapsed:.2f} journeys/s ({4 * args.journeys / elapsed:.1f} requests/s, first attempts).",
        f"- Answers: {', '.join(f'{n} × {s}' for s, n in sorted(statuses.items(), key=lambda kv: str(kv[0])))}; 500s: {statuses.get(500, 0)}.",
        f"- Injected: {sum(v for k, v in faulted.items() if k.startswith('dynamodb:'))} DynamoDB throttles, "
        f"{faulted.get('sesv2:SendEmail', 0)} SES throttles.",
        f"- Messages: {sum(received.values())} received for {args.journeys} people "
        f"(a code and a new-device notice each: {len(wrong_count)} with another count); outbox items left: "
        f"{len(waiting)}, {sum('sent' in i for i in waiting)} of them marked sent (sent, then not deleted: a "
        f"throttled DeleteItem; TTL removes them).",
        f"- Accounts: {len(held)}; contact claims: {len(claimed)}; mismatched: {len(held ^ claimed)}.",
        f"- moto's own cost: {cost * 1000:.1f} ms for one GetItem from Python (median of 50), on the same machine.",
        "",
        "| route | answered attempts | p50 ms | p99 ms |",
        "|---|---|---|---|",
    ]
    for route, values in sorted(latencies.items()):
        lines.append(f"| {route} | {len(values)} | {percentile(values, 50) * 1000:.0f} | {percentile(values, 99) * 1000:.0f} |")
    text = "\n".join(lines)
    print(text)
    write_results(text)
    problems = []
    if statuses.get(500):
        problems.append(f"{statuses[500]} answers were 500")
    if failed:
        problems.append(f"{len(failed)} journeys failed, e.g. {failed[:3]}")
    if wrong_count:
        problems.append(f"messages lost or sent twice: {list(wrong_count.items())[:5]}")
    if held ^ claimed:
        problems.append("accounts and contact claims do not match")
    if problems:
        print("load: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
