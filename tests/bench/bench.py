#!/usr/bin/env python3
"""Benchmarks of issue #7, run by tests/bench/run.sh (which builds the binaries first).

Every function binary runs as it does on Lambda: a process started with AWS_LAMBDA_RUNTIME_API
pointing at a minimal Lambda Runtime API server (`RuntimeApi`, below) that hands it API Gateway
HTTP API (payload 2.0) events, against the moto server of infra/env.sh and a table created from
template.yaml by infra/table-definition.py.

  cold starts   process start -> first answered request, a new process per run
  warm latency  a closed loop of `--concurrency` warm processes per function, `--requests` each route
  sizes         the release binaries (the release profile strips them)
  argon2        bench-argon2: time and peak RSS of the configured hash
  aws-config    where its start-up time goes (bench-bare-dynamodb's BENCH_SDK modes, strace)

The numbers go between the `generated` markers of RESULTS.md; the text around them is kept.
Standard library only, plus boto3 (infra/.venv) for the bare GetItem reference.
"""

import argparse
import base64
import datetime
import hashlib
import json
import math
import os
import platform
import queue
import random
import re
import shutil
import signal
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Every function binary: functions/<name>/src/main.rs builds the binary <name>.
FUNCTIONS = sorted(p.parent.parent.name for p in (ROOT / "functions").glob("*/src/main.rs"))
# The functions this harness knows a realistic request for, in the order a person meets them.
SCENARIOS = ["captcha", "request-code", "verify-code", "create-account", "sign-in", "manage-account",
             "enable-2fa", "add-recovery-contact", "reset-password"]
BARE_HELLO = "bench-bare-hello"
BARE_DYNAMODB = "bench-bare-dynamodb"
ARGON2 = "bench-argon2"
PASSWORD = "Tr0ub4dor&3-horse"
NEW_PASSWORD = "N3w-Passphrase-River!"
SENDER = "no-reply@bench.example.com"
CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")
MARK_START = "<!-- generated:start (tests/bench/run.sh rewrites this block) -->"
MARK_END = "<!-- generated:end -->"


def now_ns():
    return time.perf_counter_ns()


def log(*parts):
    print("bench:", *parts, file=sys.stderr, flush=True)


# --- A minimal Lambda Runtime API -----------------------------------------------------------


class Invocation:
    def __init__(self, event):
        self.id = str(uuid.uuid4())
        self.event = json.dumps(event).encode()
        self.sent_ns = None  # handed to the function (its /next answered)
        self.done_ns = None  # its /response (or /error) fully received
        self.kind = None  # "response" | "error"
        self.body = None
        self.done = threading.Event()

    def answer(self):
        """The API Gateway response the function returned, as (status, parsed JSON body)."""
        if self.kind != "response":
            return (None, {"runtime_error": (self.body or b"").decode(errors="replace")})
        response = json.loads(self.body)
        body = response.get("body") or ""
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body
        return (response.get("statusCode"), parsed)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status, body=b"", headers=()):
        # One write: headers and body together, so no Nagle/delayed-ACK stall on loopback.
        lines = [f"HTTP/1.1 {status} {'OK' if status < 300 else 'Error'}", f"Content-Length: {len(body)}",
                 "Content-Type: application/json"]
        lines += [f"{name}: {value}" for name, value in headers]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    def do_GET(self):
        api = self.server.api
        if not self.path.endswith("/runtime/invocation/next"):
            self._send(404)
            return
        api.polled()
        invocation = api.next_invocation()
        if invocation is None:  # shutting down
            self.close_connection = True
            return
        invocation.sent_ns = now_ns()
        deadline_ms = int(time.time() * 1000) + 30_000
        self._send(200, invocation.event, [
            ("Lambda-Runtime-Aws-Request-Id", invocation.id),
            ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench"),
            ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
        ])

    def do_POST(self):
        api = self.server.api
        body = self._read_body()
        received = now_ns()
        parts = self.path.strip("/").split("/")
        # 2018-06-01/runtime/invocation/<id>/response|error, or 2018-06-01/runtime/init/error
        if len(parts) == 5 and parts[2] == "invocation" and parts[4] in ("response", "error"):
            api.finish(parts[3], parts[4], body, received)
        elif parts[-2:] == ["init", "error"]:
            api.init_error = body
        self._send(202, b'{"status":"OK"}')


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a function process killed mid-poll resets its connection; nothing to report


class RuntimeApi:
    """One Runtime API endpoint for one function process, as each Lambda sandbox has."""

    def __init__(self):
        self.queue = queue.Queue()
        self.pending = {}
        self.first_poll_ns = None
        self.init_error = None
        self.closed = False
        self.lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.api = self
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def address(self):
        return f"127.0.0.1:{self.server.server_address[1]}"

    def polled(self):
        with self.lock:
            if self.first_poll_ns is None:
                self.first_poll_ns = now_ns()

    def next_invocation(self):
        while not self.closed:
            try:
                return self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
        return None

    def invoke(self, event):
        invocation = Invocation(event)
        with self.lock:
            self.pending[invocation.id] = invocation
        self.queue.put(invocation)
        return invocation

    def finish(self, request_id, kind, body, received_ns):
        with self.lock:
            invocation = self.pending.pop(request_id, None)
        if invocation is not None:
            invocation.kind, invocation.body, invocation.done_ns = kind, body, received_ns
            invocation.done.set()

    def close(self):
        self.closed = True
        self.server.shutdown()
        self.server.server_close()


# --- Function processes -----------------------------------------------------------------------


class Bench:
    def __init__(self, args):
        self.args = args
        self.bin_dir = Path(args.bin_dir)
        self.endpoint = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
        # One table per warm process: moto's TransactWriteItems deep-copies its tables for rollback
        # and fails ("dictionary changed size during iteration") when another request writes the
        # same table meanwhile. Event i of a load goes to process i % concurrency, warm table
        # i % concurrency. Cold starts have a table of their own: the cost of moto's copy grows with
        # the table, and the warm phase fills its tables.
        run_id = uuid.uuid4().hex[:8]
        self.warm_tables = [f"accounts-bench-{run_id}-warm{k}" for k in range(max(1, args.concurrency))]
        self.table = f"accounts-bench-{run_id}-cold"
        self.tables = [self.table, *self.warm_tables]
        self.log_dir = Path(args.work_dir) / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.results = {}
        self.children = []

    def binary(self, name):
        path = self.bin_dir / name
        if not path.exists():
            sys.exit(f"bench: {path} is missing; run tests/bench/run.sh (it builds it)")
        return str(path)

    def lambda_env(self, name, runtime_api, extra=None):
        # (extra may set TABLE_NAME: the process's own table)
        """What Lambda gives a provided.al2023 function, plus the function's template.yaml settings.
        Deliberately not the developer's shell: no HOME, no AWS_EC2_METADATA_DISABLED, no profile."""
        env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
            "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
            "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1"),
            "AWS_DEFAULT_REGION": os.environ.get("AWS_REGION", "us-east-1"),
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_SESSION_TOKEN": "test",
            "AWS_ENDPOINT_URL": self.endpoint,
            "TABLE_NAME": self.table,
            "SENDER_EMAIL": SENDER,
            "SERVICE_NAME": "Mi Account",
            "SERVICE_SECRET": "bench-secret-not-for-production-0123456789abcdef",
            "EDGE_SECRET": "bench-edge-secret-not-for-production-0123456789",
            "RUST_LOG": "info",
            # Real proof of work, cheap for this harness to solve (as the integration tests set it).
            "CAPTCHA_DIFFICULTY": "1000",
            # A reset code follows the sign-up code to the same address within the minute; the
            # cooldown is still written and checked (same calls), it just never refuses.
            "RESEND_COOLDOWN_SECONDS": "0",
            # moto answers one request at a time and its data.json dumps (codes_for) hold it for
            # seconds: AWS's waits would answer 503 here (as the local stack, the tests raise them).
            # Latency is unchanged; only a call slower than the production waits differs.
            "AWS_CALL_TIMEOUT_MS": "10000",
            "REQUEST_DEADLINE_MS": "25000",
        }
        env.update(extra or {})
        return env

    def spawn(self, name, runtime_api, extra=None, wrapper=()):
        logfile = open(self.log_dir / f"{name}.log", "ab")
        process = subprocess.Popen(
            [*wrapper, self.binary(name)],
            env=self.lambda_env(name, runtime_api, extra),
            stdin=subprocess.DEVNULL,
            stdout=logfile,
            stderr=subprocess.STDOUT if not extra or "BENCH_PHASES" not in extra else subprocess.PIPE,
            start_new_session=True,  # its own process group: `kill` ends a wrapper (strace) and the function
        )
        self.children.append(process)
        return process

    # --- setup -----------------------------------------------------------------------------

    def setup(self):
        for table in self.tables:
            run([sys.executable, str(ROOT / "infra/table-definition.py"), "--create", table])
        import boto3

        ses = boto3.client("sesv2", endpoint_url=self.endpoint)
        try:
            ses.create_email_identity(EmailIdentity=SENDER)
        except ses.exceptions.AlreadyExistsException:
            pass
        # moto loads each service's backend on its first call (up to a second): do that now, not
        # in the first measured request.
        ses.send_email(FromEmailAddress=SENDER, Destination={"ToAddresses": ["warm-up@example.com"]},
                       Content={"Simple": {"Subject": {"Data": "warm-up"}, "Body": {"Text": {"Data": "-"}}}})
        boto3.client("sns", endpoint_url=self.endpoint).publish(PhoneNumber="+919800000000", Message="warm-up")
        boto3.client("dynamodb", endpoint_url=self.endpoint).get_item(
            TableName=self.table, Key={"pk": {"S": "BENCH#item"}, "sk": {"S": "BENCH"}})

    def reset_moto(self):
        """Empties moto (POST /moto-api/reset) and sets this run's tables up again. Only for a moto
        server of this run's own: it drops every other client's state too."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=60).close()
        self.setup()

    def teardown(self):
        for table in self.tables:
            run([sys.executable, str(ROOT / "infra/table-definition.py"), "--delete", table], check=False)

    # --- events --------------------------------------------------------------------------------

    @staticmethod
    def event(method, path, body=None, token=None, path_parameters=None, headers=None, source_ip=None):
        all_headers = {"content-type": "application/json", "user-agent": "bench/1.0", **(headers or {})}
        if token:
            all_headers["authorization"] = f"Bearer {token}"
        source_ip = source_ip or random_ip()
        return {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": "",
            "headers": all_headers,
            "pathParameters": path_parameters or {},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "bench",
                "domainName": "localhost",
                "domainPrefix": "localhost",
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                         "userAgent": "bench/1.0"},
                "requestId": uuid.uuid4().hex,
                "routeKey": "$default",
                "stage": "$default",
                "time": "25/Nov/2026:00:00:00 +0000",
                "timeEpoch": int(time.time() * 1000),
            },
            "body": None if body is None else json.dumps(body),
            "isBase64Encoded": False,
        }

    def captcha(self, source_ip):
        return self.event("GET", "/v1/captcha", source_ip=source_ip)

    def code_request(self, contact, captcha, purpose="sign_up"):
        """To an email address, or an E.164 phone (by SMS); `captcha` is (source IP, payload) from `solved`."""
        source_ip, payload = captcha
        channel = {"channel": "sms", "phone": contact} if contact.startswith("+") else {
            "channel": "email", "email": contact}
        body = {**channel, "purpose": purpose, "captcha": payload}
        return self.event("POST", "/v1/verifications", body, source_ip=source_ip)

    @staticmethod
    def solved(ips, challenges):
        """Solves ALTCHA v1 challenges as the widget does: the number whose SHA-256(salt + number)
        is the challenge, sent as base64 JSON. (source IP, payload) per challenge."""
        solved = []
        for ip, challenge in zip(ips, challenges):
            salt, target = challenge["salt"].encode(), challenge["challenge"]
            number = next(n for n in range(challenge["maxnumber"] + 1)
                          if hashlib.sha256(salt + str(n).encode()).hexdigest() == target)
            solution = {k: challenge[k] for k in ("algorithm", "challenge", "salt", "signature")}
            solution["number"] = number
            solved.append((ip, base64.b64encode(json.dumps(solution).encode()).decode()))
        return solved

    def confirm(self, verification_id, code):
        return self.event("POST", f"/v1/verifications/{verification_id}/confirm", {"code": code},
                          path_parameters={"verification_id": verification_id})

    def create_account(self, token):
        return self.event("POST", "/v1/accounts",
                          {"verification_token": token, "password": PASSWORD, "accept_terms": True})

    def sign_in(self, email):
        return self.event("POST", "/v1/sessions", {"login": email, "password": PASSWORD})

    def account_page(self, session):
        return self.event("GET", "/v1/account", token=session)

    def start_2fa(self, session):
        return self.event("POST", "/v1/account/two-factor", {"method": "totp", "password": PASSWORD}, token=session)

    def add_recovery(self, session, token):
        return self.event("POST", "/v1/account/recovery-contacts", {"verification_token": token, "password": PASSWORD}, token=session)

    def reset(self, token):
        return self.event("POST", "/v1/password-resets", {"verification_token": token, "password": NEW_PASSWORD})

    def sign_out(self, session):
        return self.event("DELETE", "/v1/sessions/current", token=session)

    def bare_get(self):
        return self.event("GET", "/bench")

    def deliver_outbox(self):
        """What the courier does on the table's stream in AWS: every waiting OUT# message of every
        table this run uses, handed to one courier process as one stream event (not measured)."""
        import boto3

        dynamodb = boto3.client("dynamodb", endpoint_url=self.endpoint)
        for table in [self.table, *self.warm_tables]:
            keys, start = [], {}
            while True:
                page = dynamodb.scan(TableName=table, ConsistentRead=True, ProjectionExpression="pk, sk",
                                     FilterExpression="begins_with(pk, :out)",
                                     ExpressionAttributeValues={":out": {"S": "OUT#"}}, **start)
                keys += [item["pk"]["S"] for item in page["Items"]]
                if "LastEvaluatedKey" not in page:
                    break
                start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
            if not keys:
                continue
            records = [{"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": "OUT"}},
                                                             "SequenceNumber": f"{n + 1:021}"}}
                       for n, pk in enumerate(keys)]
            api = RuntimeApi()
            process = self.spawn("courier", api.address, {"TABLE_NAME": table})
            invocation = api.invoke({"Records": records})
            done = invocation.done.wait(timeout=120)
            kill(process)
            process.wait()
            api.close()
            failures = json.loads(invocation.body or b"{}").get("batchItemFailures") if done else None
            if not done or invocation.kind != "response" or failures:
                sys.exit(f"bench: the courier did not deliver {table}'s outbox: {invocation.body!r}")

    def codes_for(self, contacts):
        """The newest code sent to each email address or E.164 phone, from moto's record of what it
        sent, once the courier has delivered the outbox."""
        self.deliver_outbox()
        for attempt in range(5):  # moto can answer 500 while other clients write to it
            try:
                # The two services that send only (infra/moto_serial.py): the whole dump takes seconds.
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/data.json?services=ses,sns", timeout=120) as answer:
                    data = json.load(answer)
                break
            except urllib.error.HTTPError:
                if attempt == 4:
                    raise
                time.sleep(1)
        wanted, codes = set(contacts), {}
        for message in data.get("ses", {}).get("Message", []) or []:
            for address in (message.get("destinations") or {}).get("ToAddresses") or []:
                if address in wanted:
                    found = CODE.search(f"{message.get('subject', '')}\n{message.get('body', '')}")
                    if found:
                        codes[address] = found.group(0)
        for sms in data.get("sns", {}).get("SMS", []) or []:
            if sms.get("phone_number") in wanted:
                found = CODE.search(sms.get("message", ""))
                if found:
                    codes[sms["phone_number"]] = found.group(0)
        missing = [c for c in contacts if c not in codes]
        if missing:
            sys.exit(f"bench: no code in moto for {len(missing)} contacts, e.g. {missing[0]}")
        return [codes[c] for c in contacts]

    # --- cold starts ------------------------------------------------------------------------

    def cold_start(self, name, events, expect, extra=None):
        """Starts `name` fresh with `events` (two requests of one route) queued. The first is the
        cold start; the second, in the same process right after, is what the route costs warm.
        (ms to the first poll, ms to the first answer, ms of the second request, answers, ...)."""
        api = RuntimeApi()
        invocations = [api.invoke(event) for event in events]
        try:
            started = now_ns()
            process = self.spawn(name, api.address, extra)
            if not all(i.done.wait(timeout=60) for i in invocations):
                kill(process)
                sys.exit(f"bench: {name} gave no answer within 60 s (see {self.log_dir}/{name}.log)")
            phases = None
            rss = peak_rss_kib(process.pid)
            kill(process)
            _, err = process.communicate()
            if err:
                lines = [l for l in err.decode(errors="replace").splitlines() if l.startswith("{")]
                phases = json.loads(lines[0]) if lines else None
        finally:
            api.close()
        answers = []
        for invocation in invocations:
            status, body = invocation.answer()
            if status not in expect:
                sys.exit(f"bench: cold {name} answered {status} {body}, expected {expect}")
            answers.append(body)
        first, second = invocations[0], invocations[-1]
        return ((api.first_poll_ns - started) / 1e6, (first.done_ns - started) / 1e6,
                (second.done_ns - second.sent_ns) / 1e6, answers, phases, rss)

    def cold_run(self, label, name, pair, expect, extra=None):
        """One cold start of `name` answering `pair` (see `cold_start`), added to `label`'s series."""
        i, t, w, answers, p, r = self.cold_start(name, pair, expect, extra)
        series = self.results.setdefault("cold", {}).setdefault(
            label, {"binary": name, "init": [], "total": [], "warm": [], "phases": [], "peak_rss_kib": 0})
        series["init"].append(i)
        series["total"].append(t)
        series["warm"].append(w)
        series["peak_rss_kib"] = max(series["peak_rss_kib"], r or 0)
        if p:
            series["phases"].append(p)
        return answers

    def cold_starts(self, runs):
        """`runs` rounds; each round cold-starts every binary once, in turn, so a change in the
        machine's load over the run hits every series alike. A function's cold start answers two
        requests, and its answers feed the next function (a code request, its confirmation, ...)."""
        bundle = next((f for f in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
                       if os.path.exists(f)), None)
        for _ in range(runs):
            # Made each round: a token made at the start would expire (TOKEN_TTL_SECONDS) before the last rounds.
            tokens = self.add_contact_tokens(2)
            self.cold_run("bare hello", BARE_HELLO, [self.bare_get(), self.bare_get()], {200})
            self.cold_run("bare DynamoDB", BARE_DYNAMODB, [self.bare_get(), self.bare_get()], {200})
            emails = [f"cold.{uuid.uuid4().hex[:12]}@example.com" for _ in range(2)]
            sessions = self.cold_sign_up(emails, {})
            self.cold_run("enable-2fa", "enable-2fa", [self.start_2fa(s) for s in sessions], {200})
            self.cold_run("add-recovery-contact", "add-recovery-contact",
                          [self.add_recovery(s, t) for s, t in zip(sessions, tokens)], {201})
            if "reset-password" in FUNCTIONS:  # last: a reset signs every session out
                reset_tokens = self.verified_tokens(emails, "reset_password")
                self.cold_run("reset-password", "reset-password", [self.reset(t) for t in reset_tokens], {204})
            # The same by phone: parsing or reading a phone number loads libphonenumber's metadata.
            self.cold_sign_up([random_phone(), random_phone()], PHONE_SERIES)
            # Functions without a scenario here: a route they do not serve (an answer, no AWS call).
            # Not the courier: it answers stream events, after the request a person waits for.
            for name in FUNCTIONS:
                if name not in SCENARIOS and name != "courier":
                    self.cold_run(name, name, [self.event("GET", "/bench/unknown-route")] * 2, set(range(200, 600)))

            # aws-config: the bare handler with its SDK configuration built three ways, then with the
            # TLS trust store narrowed: the bundle file only (no directory walk), and none at all.
            for mode in ("defaults", "explicit", "builder"):
                self.cold_run(f"bare DynamoDB, BENCH_SDK={mode}", BARE_DYNAMODB, [self.bare_get()] * 2, {200},
                              extra={"BENCH_SDK": mode, "BENCH_PHASES": "1"})
            for cert_file in ([bundle] if bundle else []) + ["/dev/null"]:
                self.cold_run(f"bare DynamoDB, BENCH_SDK=defaults, SSL_CERT_FILE={cert_file}", BARE_DYNAMODB,
                              [self.bare_get()] * 2, {200},
                              extra={"BENCH_SDK": "defaults", "BENCH_PHASES": "1", "SSL_CERT_FILE": cert_file})
        for label, series in self.results["cold"].items():
            log(f"cold {label}: median {statistics.median(series['total']):.1f} ms "
                f"(init {statistics.median(series['init']):.1f} ms, then warm {statistics.median(series['warm']):.1f} ms)")

    def cold_sign_up(self, contacts, series):
        """Cold starts along the sign-up screen for two `contacts`: captcha, request-code, verify-code,
        create-account, sign-in, the account page. `series` renames a function's series (phones are
        kept apart from emails); the new accounts' sessions."""
        def label(name):
            return name + series.get(name, "")
        ips = [random_ip(), random_ip()]
        challenges = self.cold_run("captcha", "captcha", [self.captcha(ip) for ip in ips], {200})
        sent = self.cold_run(label("request-code"), "request-code",
                             [self.code_request(c, p) for c, p in zip(contacts, self.solved(ips, challenges))],
                             {202})
        confirmed = self.cold_run(label("verify-code"), "verify-code", [
            self.confirm(s["verification_id"], c) for s, c in zip(sent, self.codes_for(contacts))], {200})
        self.cold_run(label("create-account"), "create-account",
                      [self.create_account(c["verification_token"]) for c in confirmed], {201})
        sessions = [s["session_token"] for s in
                    self.cold_run(label("sign-in"), "sign-in", [self.sign_in(c) for c in contacts], {201})]
        self.cold_run(label("manage-account"), "manage-account", [self.account_page(s) for s in sessions], {200})
        return sessions

    def add_contact_tokens(self, count):
        """`add_contact` verification tokens in the cold table, made by warm processes (not measured)."""
        return self.verified_tokens([f"recovery.{uuid.uuid4().hex[:12]}@example.com" for _ in range(count)],
                                    "add_contact")

    def verified_tokens(self, emails, purpose):
        """Verification tokens for `purpose` in the cold table, made by warm processes (not measured)."""
        ips = [random_ip() for _ in emails]
        cold = [self.table]
        challenges = self.load(None, "captcha", [self.captcha(ip) for ip in ips], {200}, 1, cold)
        sent = self.load(None, "request-code", [self.code_request(e, k, purpose) for e, k in
                                                zip(emails, self.solved(ips, challenges))], {202}, 1, cold)
        confirmed = self.load(None, "verify-code", [self.confirm(a["verification_id"], c) for a, c in
                                                     zip(sent, self.codes_for(emails))], {200}, 1, cold)
        return [t["verification_token"] for t in confirmed]

    # --- warm load ----------------------------------------------------------------------------

    def load(self, label, name, events, expect, concurrency, tables=None):
        """A closed loop: `concurrency` warm processes of `name`, each answering one event at a time.
        Each process's first event is its cold start and is not counted. Answers keep events' order."""
        apis = [RuntimeApi() for _ in range(concurrency)]
        tables = tables or self.warm_tables
        processes = [self.spawn(name, api.address, {"TABLE_NAME": tables[k]}) for k, api in enumerate(apis)]
        work = [[(i, e) for i, e in enumerate(events) if i % concurrency == k] for k in range(concurrency)]
        answers = [None] * len(events)
        latencies = []
        lock = threading.Lock()
        failures = []

        def worker(api, items):
            first = True
            for index, event in items:
                invocation = api.invoke(event)
                if not invocation.done.wait(timeout=60):
                    failures.append(f"event {index}: no answer within 60 s")
                    return
                status, body = invocation.answer()
                if status not in expect:
                    failures.append(f"event {index}: {status} {body}")
                answers[index] = body
                if not first:
                    with lock:
                        latencies.append((invocation.done_ns - invocation.sent_ns) / 1e6)
                first = False

        started = time.monotonic()
        threads = [threading.Thread(target=worker, args=(api, items)) for api, items in zip(apis, work)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        rss = max((peak_rss_kib(p.pid) or 0) for p in processes)
        for process in processes:
            kill(process)
            process.wait()
        for api in apis:
            api.close()
        if failures:
            sys.exit(f"bench: {label}: {len(failures)} unexpected answers, e.g. {failures[0]}")
        if label:
            self.results.setdefault("warm", {})[label] = {"latencies": latencies, "seconds": elapsed,
                                                          "requests": len(events), "peak_rss_kib": rss}
            log(f"warm {label}: p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms")
        return answers

    def boto3_get_item(self, requests, concurrency):
        import boto3

        latencies, lock = [], threading.Lock()
        per_thread = math.ceil(requests / concurrency)

        def worker():
            client = boto3.client("dynamodb", endpoint_url=self.endpoint)
            for i in range(per_thread + 1):
                started = now_ns()
                client.get_item(TableName=self.table, Key={"pk": {"S": "BENCH#item"}, "sk": {"S": "BENCH"}},
                                ConsistentRead=True)
                if i:
                    with lock:
                        latencies.append((now_ns() - started) / 1e6)

        threads = [threading.Thread(target=worker) for _ in range(concurrency)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.results.setdefault("warm", {})["bare GetItem, boto3"] = {
            "latencies": latencies, "seconds": time.monotonic() - started, "requests": len(latencies)}

    def warm_load(self, requests, concurrency):
        n = requests + concurrency  # each process's first answer is a warm-up
        c = concurrency
        emails = [f"warm.{uuid.uuid4().hex[:12]}@example.com" for _ in range(n)]
        recovery = [f"recovery.{uuid.uuid4().hex[:12]}@example.com" for _ in range(n)]
        ips = [random_ip() for _ in range(n + len(recovery))]

        challenges = self.load("captcha (GET /v1/captcha)", "captcha", [self.captcha(ip) for ip in ips], {200}, c)
        captchas = self.solved(ips, challenges)
        sent = self.load("request-code (sign_up, email)", "request-code",
                         [self.code_request(e, k) for e, k in zip(emails, captchas)], {202}, c)
        added = self.load(None, "request-code",
                          [self.code_request(e, k, "add_contact") for e, k in zip(recovery, captchas[n:])], {202}, c)
        codes = self.codes_for(emails)
        confirmed = self.load("verify-code (right code)", "verify-code",
                              [self.confirm(s["verification_id"], k) for s, k in zip(sent, codes)], {200}, c)
        recovery_codes = self.codes_for(recovery)
        recovery_tokens = [t["verification_token"] for t in self.load(
            None, "verify-code", [self.confirm(s["verification_id"], k) for s, k in zip(added, recovery_codes)],
            {200}, c)]
        self.load("create-account", "create-account",
                  [self.create_account(t["verification_token"]) for t in confirmed], {201}, c)
        signed_in = self.load("sign-in (no 2FA)", "sign-in", [self.sign_in(e) for e in emails], {201}, c)
        sessions = [s["session_token"] for s in signed_in]
        self.load("manage-account (GET /v1/account)", "manage-account", [self.account_page(s) for s in sessions],
                  {200}, c)
        self.load("enable-2fa (start, totp)", "enable-2fa", [self.start_2fa(s) for s in sessions], {200}, c)
        self.load("add-recovery-contact", "add-recovery-contact",
                  [self.add_recovery(s, t) for s, t in zip(sessions, recovery_tokens)], {201}, c)
        self.load("sign-out (sign-in, DELETE)", "sign-in", [self.sign_out(s) for s in sessions], {204}, c)
        # A warm password function's memory over many argon2 verifications (issue 17): one process.
        k = self.args.sign_ins_in_one_process
        self.load(f"sign-in (no 2FA), {k} in one process", "sign-in", [self.sign_in(emails[0])] * (k + 1), {201}, 1)
        self.load("bare GetItem, bench-bare-dynamodb", BARE_DYNAMODB, [self.bare_get() for _ in range(n)], {200}, c)
        self.boto3_get_item(requests, c)

    # --- sizes, argon2, aws-config ---------------------------------------------------------

    def sizes(self):
        sizes = {}
        strip = shutil.which("strip")
        for name in FUNCTIONS + [BARE_HELLO, BARE_DYNAMODB]:
            path = Path(self.binary(name))
            stripped = path.stat().st_size
            if strip:  # the profile strips symbols already; this also drops what strip(1) would
                with tempfile.TemporaryDirectory() as tmp:
                    copy = Path(tmp) / name
                    shutil.copy(path, copy)
                    subprocess.run([strip, str(copy)], check=True)
                    stripped = copy.stat().st_size
            sizes[name] = {"file": path.stat().st_size, "stripped": stripped}
        self.results["sizes"] = sizes

    def argon2(self):
        runs = {}
        for hashes in (0, 1, 10, 40, 1000):
            out = subprocess.run(["/usr/bin/time", "-v", self.binary(ARGON2), str(hashes)],
                                 capture_output=True, text=True, check=True)
            max_rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
            runs[hashes] = {**json.loads(out.stdout), "time_max_rss_kib": max_rss}
        self.results["argon2"] = runs

    def strace(self):
        """Files and sockets a function touches from exec to its first answer (request-code)."""
        if not shutil.which("strace"):
            self.results["strace"] = None
            return
        trace = Path(self.args.work_dir) / "request-code.strace"
        ip = random_ip()
        challenge = self.load(None, "captcha", [self.captcha(ip)], {200}, 1, [self.table])
        api = RuntimeApi()
        email = f"strace.{uuid.uuid4().hex[:12]}@example.com"
        invocation = api.invoke(self.code_request(email, self.solved([ip], challenge)[0]))
        process = self.spawn("request-code", api.address,
                             wrapper=("strace", "-f", "-tt", "-e", "trace=%file,%network", "-o", str(trace)))
        invocation.done.wait(timeout=60)
        time.sleep(0.2)
        kill(process)
        process.wait()
        api.close()
        files, connects = {}, {}
        for line in trace.read_text(errors="replace").splitlines():
            found = re.search(r'(?:openat|statx|newfstatat|access|readlink|stat|open)\((?:AT_FDCWD, |\d+, )?"([^"]+)"', line)
            if found and not re.match(r"^(/proc|/sys|/dev|/lib|/usr/lib|/etc/ld\.so)", found.group(1)):
                result = "ok" if not re.search(r"= -1 ", line) else line.rsplit("= -1 ", 1)[1].split()[0]
                files.setdefault(found.group(1), set()).add(result)
            found = re.search(r'connect\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\), (?:sin_addr=inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)")', line)
            if found:
                address = f"{found.group(2) or found.group(3)}:{found.group(1)}"
                connects[address] = connects.get(address, 0) + 1
        # A directory read file by file (the system's CA certificates) is one line: "<dir>/* (n files)".
        by_dir = {}
        for path in files:
            by_dir.setdefault(os.path.dirname(path), []).append(path)
        summary = {}
        for directory, paths in by_dir.items():
            if len(paths) > 5:
                results = sorted(set().union(*(files[p] for p in paths)))
                summary[f"{directory}/* ({len(paths)} files)"] = results
            else:
                summary.update({p: sorted(files[p]) for p in paths})
        self.results["strace"] = {"files": summary, "connects": connects}

    # --- report -----------------------------------------------------------------------------

    def machine(self):
        cpu = "unknown"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        moto = "unknown"
        try:
            with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=5):
                pass
            from importlib.metadata import version

            moto = version("moto")
        except Exception:
            pass
        commit = capture(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
        dirty = capture(["git", "-C", str(ROOT), "status", "--porcelain"])
        return {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "nproc": os.cpu_count(),
            "cpu": cpu,
            "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
            "kernel": platform.release(),
            "rustc": capture(["rustc", "-V"]),
            "python": platform.python_version(),
            "moto": moto,
            "commit": commit + (" (with uncommitted changes)" if dirty else ""),
            "load": open("/proc/loadavg").read().split()[:3],
        }


def kill(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def peak_rss_kib(pid):
    """VmHWM of a live process: its peak resident memory so far."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
    except (OSError, AttributeError):
        return None


def random_phone():
    """A fresh Indian mobile number in E.164 (the +91 98 range is all mobile)."""
    return f"+9198{random.randrange(10**8):08d}"


# The phone series of the cold starts (`cold_sign_up`), apart from the email ones.
PHONE_SERIES = {"request-code": ", sms", "verify-code": ", sms", "create-account": ", phone", "sign-in": ", phone",
                "manage-account": ", phone account"}


def random_ip():
    """A client address from the benchmarking range, fresh per request so per-IP limits never bite."""
    return f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}"


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, math.ceil(p / 100 * len(ordered)) - 1)
    return ordered[k]


def run(command, check=True):
    subprocess.run(command, check=check, stdout=sys.stderr)


def capture(command):
    try:
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return "unknown"


# --- RESULTS.md -----------------------------------------------------------------------------

SIZE_TARGET = 1.5
COLD_TARGET = 1.3

# Issue #7's targets per logged route of tests/tests/api/round_trips.rs: (target text, met(calls)).
def _dynamo(calls):
    return [c for c in calls if c.startswith("dynamodb:")]


def _writes(calls):
    return [c for c in _dynamo(calls) if c.split(":")[1] in ("PutItem", "UpdateItem", "DeleteItem",
                                                              "TransactWriteItems", "BatchWriteItem")]


def _sends(calls):
    return [c for c in calls if c in ("sns:Publish", "sesv2:SendEmail")]


ROUND_TRIP_TARGETS = {
    "request code: sign_up, sms": ("1 DynamoDB write + 1 send", lambda c: c == ["dynamodb:TransactWriteItems", "sns:Publish"]),
    "request code: sign_up, email": ("1 DynamoDB write + 1 send", lambda c: c == ["dynamodb:TransactWriteItems", "sesv2:SendEmail"]),
    "request code: sign_up, contact already registered": ("1 DynamoDB write + 1 send", lambda c: len(_dynamo(c)) == 1 and len(_sends(c)) == 1),
    "request code: add_contact, email": ("1 DynamoDB write + 1 send", lambda c: len(_dynamo(c)) == 1 and len(_writes(c)) == 1 and len(_sends(c)) == 1),
    "request code: add_contact, sms": ("1 DynamoDB write + 1 send", lambda c: len(_dynamo(c)) == 1 and len(_writes(c)) == 1 and len(_sends(c)) == 1),
    "confirm code: right code": ("1 DynamoDB write", lambda c: len(_dynamo(c)) == 1 and len(_writes(c)) == 1),
    "create account": ("1 transaction", lambda c: c == ["dynamodb:TransactWriteItems"]),
    "sign in: no 2FA": ("<= 2 DynamoDB calls", lambda c: len(_dynamo(c)) <= 2),
    "GET /v1/account": ("<= 1 read for the session", lambda c: len(_dynamo(c)) <= 1),
    "add recovery contact (notice to the primary phone)": ("session check <= 1 extra read", lambda c: c[:1] == ["dynamodb:BatchGetItem"] and c.count("dynamodb:BatchGetItem") == 1),
    "enable 2FA: start, totp": ("session check <= 1 extra read", lambda c: c[:1] == ["dynamodb:BatchGetItem"]),
    "enable 2FA: start, sms": ("session check <= 1 extra read", lambda c: c[:1] == ["dynamodb:BatchGetItem"]),
    "enable 2FA: confirm, totp (notice to each contact)": ("session check <= 1 extra read", lambda c: c[:1] == ["dynamodb:BatchGetItem"]),
    "enable 2FA: confirm, sms (notice to each contact)": ("session check <= 1 extra read", lambda c: c[:1] == ["dynamodb:BatchGetItem"]),
    "sign out": ("session check <= 1 extra read", lambda c: c[:1] == ["dynamodb:BatchGetItem"]),
}


def ms(value):
    return f"{value:.1f}"


def render(results, round_trips):
    m = results["machine"]
    out = []
    w = out.append
    w(MARK_START)
    w("")
    w(f"Measured {m['date']} at commit {m['commit']} by `tests/bench/run.sh`.")
    w("")
    w("| machine | |")
    w("|---|---|")
    w(f"| CPU | {m['cpu']}, {m['nproc']} cores (`nproc`) |")
    w(f"| memory | {m['memory']} |")
    w(f"| kernel | {m['kernel']} |")
    w(f"| toolchain | {m['rustc']} |")
    w(f"| local AWS | moto {m['moto']} (`infra/moto.sh`), Python {m['python']} |")
    w(f"| load average at the end | {' '.join(m['load'])} |")
    w("")

    summary = []

    # Sizes.
    sizes = results.get("sizes")
    if sizes:
        ref = sizes[BARE_DYNAMODB]["stripped"]
        w("### Binary size (release profile: fat LTO, 1 codegen unit, panic=abort, stripped)")
        w("")
        w("| binary | stripped size | × bare DynamoDB handler | target ≤ 1.5× |")
        w("|---|---:|---:|---|")
        for name in [BARE_HELLO, BARE_DYNAMODB] + FUNCTIONS:
            size = sizes[name]["stripped"]
            ratio = size / ref
            verdict = "" if name.startswith("bench-") else ("met" if ratio <= SIZE_TARGET else "**missed**")
            w(f"| {name} | {size / 1024 / 1024:.2f} MiB | {ratio:.2f} | {verdict} |")
            if not name.startswith("bench-"):
                summary.append(("size", name, f"{ratio:.2f}× bare DynamoDB", ratio <= SIZE_TARGET))
        w("")

    # Cold starts.
    cold = results.get("cold")
    if cold:
        def penalty(series):  # per cold start: first answer minus the same route's next, warm answer
            return [t - w for t, w in zip(series["total"], series["warm"])]

        hello = statistics.median(cold["bare hello"]["total"])
        hello_init = statistics.median(cold["bare hello"]["init"])
        hello_penalty = statistics.median(penalty(cold["bare hello"]))
        w(f"### Cold start: process start → first answered request ({len(cold['bare hello']['total'])} cold starts each)")
        w("")
        w("A new process per cold start, served by bench.py's Runtime API server, against moto; two requests of")
        w("the route are queued. *first answer*: process start → the first `POST /response` (the issue's")
        w("measure; it includes the request's own AWS calls). *init*: process start → the runtime's first")
        w("`GET /next`, i.e. `main` up to the handler loop. *warm*: the second request, same process, right")
        w("after. *cold penalty* = first answer − warm, per process: what being cold costs beyond the request's")
        w("own work. Ratios are of medians, to bare hello's.")
        w("")
        w("| binary (request) | first answer: median (ms) | p90 | min | max | ratio (target ≤ 1.3) "
          "| init (ms) | init ratio | warm (ms) | cold penalty (ms) | penalty ratio | peak RSS (MiB) |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        requests = {
            "captcha": "GET /v1/captcha → 200",
            "request-code, sms": "sign_up, sms → 202", "verify-code, sms": "right code → 200",
            "create-account, phone": "→ 201", "sign-in, phone": "phone login, no 2FA → 201",
            "manage-account, phone account": "→ 200",
            "bare hello": "→ 200 hello", "bare hello (again)": "→ 200 hello",
            "bare DynamoDB": "1 GetItem", "request-code": "sign_up, email → 202",
            "verify-code": "right code → 200", "create-account": "→ 201",
            "sign-in": "no 2FA → 201", "manage-account": "GET /v1/account → 200",
            "enable-2fa": "start totp → 200", "add-recovery-contact": "email → 201",
            "reset-password": "no 2FA → 204",
        }
        for label, series in cold.items():
            total, init, warm = series["total"], series["init"], series["warm"]
            ratio = statistics.median(total) / hello
            init_ratio = statistics.median(init) / hello_init
            cost = statistics.median(penalty(series))
            request = requests.get(label, None) or requests.get(label.split(",")[0],
                                   "1 GetItem" if "DynamoDB" in label else "unserved route, no AWS call")
            w(f"| {label} ({request}) | {ms(statistics.median(total))} | {ms(percentile(total, 90))} | "
              f"{ms(min(total))} | {ms(max(total))} | {ratio:.2f} | {ms(statistics.median(init))} | "
              f"{init_ratio:.2f} | {ms(statistics.median(warm))} | {ms(cost)} | {cost / hello_penalty:.2f} | "
              f"{series.get('peak_rss_kib', 0) / 1024:.1f} |")
            if label in FUNCTIONS:
                # The measure, literally: it includes the route's own AWS calls to moto, which
                # bare hello does not make. Then the part that is start-up alone: process start → ready.
                summary.append(("cold start, first answer", label, f"{ratio:.2f}× bare hello "
                                f"(cold penalty {cost / hello_penalty:.2f}×)", ratio <= COLD_TARGET))
                summary.append(("cold start, init", label, f"{init_ratio:.2f}× bare hello", init_ratio <= COLD_TARGET))
        w("")
        phases = [(label, s["phases"]) for label, s in cold.items() if s["phases"]]
        if phases:
            w("#### aws-config at start: the bare DynamoDB handler, its SDK configuration built three ways, "
              "then with a narrower TLS trust store")
            w("")
            w("Medians of the handler's own clock from `main` (µs), all with the SDK's default HTTPS client (rustls,")
            w("the system's trust store): `defaults` = `aws_config::defaults().load()`, as `shared::App::from_env`")
            w("did before issue #7; `explicit` = the same loader given the region and the environment's")
            w("credentials; `builder` = `SdkConfig::builder()` from the Lambda environment, no provider chains (what")
            w("`App::from_env` does now, which also brings its own trust store: see Findings); `SSL_CERT_FILE` makes")
            w("rustls-native-certs read that one file instead of probing the system's certificate file and")
            w("directory (`/dev/null`: no roots at all, the floor).")
            w("")
            w("| mode | SDK config ready | client built | first GetItem answered | cold start, first answer (ms) |")
            w("|---|---:|---:|---:|---:|")
            for label, p in phases:
                med = lambda key: statistics.median(x[key] for x in p)
                w(f"| {label.split(', ', 1)[1]} | {med('sdk_config_us'):.0f} | {med('client_us'):.0f} | "
                  f"{med('first_answer_us'):.0f} | {ms(statistics.median(cold[label]['total']))} |")
            w("")

    trace = results.get("strace")
    if trace:
        w("#### What a cold request-code touches (strace, exec → first answer)")
        w("")
        w("Outbound connections: " + (", ".join(f"`{a}` ×{n}" for a, n in sorted(trace["connects"].items()))
                                      or "none") + ".")
        w("")
        interesting = {k: v for k, v in trace["files"].items()
                       if not k.startswith(("/etc/localtime", "/etc/nsswitch", "/etc/host", "/etc/resolv"))}
        w("Files looked up (outside /proc, /sys, /dev and the dynamic loader's libraries):")
        w("")
        for path, result in sorted(interesting.items()):
            w(f"- `{path}`: {', '.join(result)}")
        w("")

    # Round trips.
    if round_trips:
        w("### AWS round trips per request (asserted exactly in tests/tests/api/round_trips.rs)")
        w("")
        w("| route | DynamoDB | SES | SNS | calls, in order | issue target | |")
        w("|---|---:|---:|---:|---|---|---|")
        for route, calls in round_trips.items():
            dynamo = len(_dynamo(calls))
            ses = sum(1 for c in calls if c.startswith("sesv2:"))
            sns = sum(1 for c in calls if c.startswith("sns:"))
            names = ", ".join(c.split(":", 1)[1] for c in calls) or "none"
            target, met = ROUND_TRIP_TARGETS.get(route, ("", None))
            verdict = "" if met is None else ("met" if met(calls) else "**missed**")
            w(f"| {route} | {dynamo} | {ses} | {sns} | {names} | {target} | {verdict} |")
            if met is not None:
                summary.append(("round trips", route, names, met(calls)))
        w("")

    # argon2.
    argon = results.get("argon2")
    if argon:
        ten, one, zero = argon[10], argon[1], argon[0]
        hashes = [float(x) for x in ten["hash_ms"]]
        w(f"### Password hashing: argon2id m={ten['memory_kib']} KiB, t={ten['iterations']}, p={ten['parallelism']}")
        w("")
        w("| | value |")
        w("|---|---:|")
        w(f"| one hash, median of {len(hashes)} (ms) | {ms(statistics.median(hashes))} |")
        w(f"| one hash, min / max (ms) | {ms(min(hashes))} / {ms(max(hashes))} |")
        w(f"| first hash of a process (ms) | {ms(float(one['hash_ms'][0]))} |")
        w(f"| one verification (sign-in's cost) (ms) | {ms(float(ten['verify_ms']))} |")
        w(f"| peak RSS, process without hashing (KiB, /usr/bin/time -v) | {zero['time_max_rss_kib']} |")
        w(f"| peak RSS, one hash (KiB) | {one['time_max_rss_kib']} |")
        w(f"| peak RSS, ten hashes in one process (KiB) | {ten['time_max_rss_kib']} |")
        w(f"| peak RSS, forty hashes in one process (KiB) | {argon[40]['time_max_rss_kib']} |")
        w(f"| peak RSS, 1,000 hashes in one process (KiB) | {argon[1000]['time_max_rss_kib']} |")
        w(f"| hashing adds (KiB) | {one['time_max_rss_kib'] - zero['time_max_rss_kib']} |")
        w("")

    # Warm latency.
    warm = results.get("warm")
    if warm:
        w(f"### Warm latency under load: {results['concurrency']} warm processes per route in a closed loop")
        w("")
        w("Runtime API `/next` answered → `/response` received (the function's whole request, AWS calls")
        w("to moto included); each process's first request is its cold start and is left out. boto3's")
        w("GetItem is timed around the call in the harness's threads.")
        w("")
        w("| route | DynamoDB/SES/SNS calls | requests timed | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) "
          "| throughput (req/s) | peak RSS of a process (MiB) |")
        w("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        calls = {
            "captcha (GET /v1/captcha)": "GetItem",
            "request-code (sign_up, email)": "GetItem, TransactWriteItems (the code into the outbox)",
            "verify-code (right code)": "UpdateItem, TransactWriteItems",
            "create-account": "GetItem, TransactWriteItems (+ argon2 hash)",
            "sign-in (no 2FA)": "BatchGetItem, GetItem, 4 UpdateItem (counters), TransactWriteItems (session, "
                                "new-device notice) (+ argon2 verify)",
            "manage-account (GET /v1/account)": "BatchGetItem",
            "enable-2fa (start, totp)": "BatchGetItem, 3 UpdateItem (password check, refund, start)",
            "add-recovery-contact": "BatchGetItem, GetItem, TransactWriteItems (with the notice)",
            "sign-out (sign-in, DELETE)": "BatchGetItem, DeleteItem",
            "bare GetItem, bench-bare-dynamodb": "GetItem",
            "bare GetItem, boto3": "GetItem",
        }
        for label, series in warm.items():
            lat = series["latencies"]
            rss = series.get("peak_rss_kib")
            w(f"| {label} | {calls.get(label, '')} | {len(lat)} | {ms(percentile(lat, 50))} | {ms(percentile(lat, 90))} | "
              f"{ms(percentile(lat, 99))} | "
              f"{ms(max(lat))} | {series['requests'] / series['seconds']:.0f} | {f'{rss / 1024:.1f}' if rss else '–'} |")
        w("")

    if summary:
        w("### Targets at a glance")
        w("")
        w("| measure | subject | result | |")
        w("|---|---|---|---|")
        for measure, subject, result, met in summary:
            w(f"| {measure} | {subject} | {result} | {'met' if met else '**missed**'} |")
        w("")
    w(MARK_END)
    return "\n".join(out)


def write_results(path, block):
    path = Path(path)
    if path.exists() and MARK_START in path.read_text() and MARK_END in path.read_text():
        text = path.read_text()
        before, rest = text.split(MARK_START, 1)
        _, after = rest.split(MARK_END, 1)
        path.write_text(before + block + after)
    else:
        path.write_text("# Benchmarks (issue #7)\n\nRun `tests/bench/run.sh`.\n\n## Results\n\n" + block
                        + "\n\n## Findings\n\n(written by hand; kept when the numbers are regenerated)\n")


def main():
    # SIGTERM (or Ctrl-C) still kills the function processes and deletes the table.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", default=str(ROOT / "target/release"))
    parser.add_argument("--work-dir", default=str(ROOT / "target/bench"))
    parser.add_argument("--results", default=str(ROOT / "tests/bench/RESULTS.md"))
    parser.add_argument("--round-trips", help="JSON lines logged by tests/tests/api/round_trips.rs (ROUND_TRIPS_LOG)")
    parser.add_argument("--cold-runs", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--sign-ins-in-one-process", type=int, default=1000,
                        help="warm: sign-ins answered by one sign-in process, for its peak RSS (issue 17)")
    parser.add_argument("--only", help="comma list of: sizes,argon2,warm,cold,strace (default: all)")
    args = parser.parse_args()
    Path(args.work_dir).mkdir(parents=True, exist_ok=True)

    only = set((args.only or "sizes,argon2,warm,cold,strace").split(","))
    bench = Bench(args)
    bench.results["concurrency"] = args.concurrency
    started = time.monotonic()
    if "sizes" in only:
        bench.sizes()
    if "argon2" in only:
        bench.argon2()
        log("argon2 done")
    if only & {"warm", "cold", "strace"}:
        bench.setup()
        try:
            # Cold starts first: they read moto's outbox (data.json, a dump of everything moto holds,
            # deleted tables included) between runs, which gets slow once the warm phase has filled it.
            if "cold" in only:
                bench.cold_starts(args.cold_runs)
            if "strace" in only:
                bench.strace()
            if "warm" in only:
                if os.environ.get("BENCH_PRIVATE_MOTO") == "1":
                    bench.reset_moto()  # a server of this run alone (run.sh): start the warm phase empty
                bench.warm_load(args.requests, args.concurrency)
        finally:
            for process in bench.children:
                kill(process)
            bench.teardown()
    bench.results["machine"] = bench.machine()
    (Path(args.work_dir) / "results.json").write_text(json.dumps(bench.results, indent=1, default=list))

    round_trips = {}
    if args.round_trips and Path(args.round_trips).exists():
        logged = {}
        for line in Path(args.round_trips).read_text().splitlines():
            if line.strip():
                entry = json.loads(line)
                logged[entry["route"]] = entry["calls"]
        # In the order the test file checks them (its tests run in parallel and log in any order).
        source = (ROOT / "tests/tests/api/round_trips.rs").read_text()
        order = re.findall(r'expect_trips\(\s*"([^"]+)"', source)
        for route in order + sorted(set(logged) - set(order)):
            if route in logged:
                round_trips[route] = logged[route]
    write_results(args.results, render(bench.results, round_trips))
    log(f"done in {time.monotonic() - started:.0f} s; wrote {args.results}")


if __name__ == "__main__":
    main()
