#!/usr/bin/env python3
"""A fault-injecting HTTP proxy between AWS SDKs and moto: point AWS_ENDPOINT_URL at it.

Every request is forwarded to moto unchanged, unless a rule matches its operation, named as
the tests name them (tests/src/observe.rs): `dynamodb:PutItem`, `dynamodbstreams:GetRecords`,
`secretsmanager:GetSecretValue`, `sesv2:SendEmail`, `sns:Publish`. A rule applies to every
operation starting with its prefix (`dynamodb:` is all of DynamoDB), to a share of them
(`rate`, 0..1), and answers as AWS does when it misbehaves:

  throttle   400 with the service's throttling error (JSON, or XML for SNS)
  error      500 with an internal error
  reset      the connection is closed without an answer
  hang       no answer for `seconds` (default 3600), then a reset
  slow       the request is forwarded after `seconds`

Control, on the proxy itself (never forwarded):
  PUT  /__faults  {"rules": [{"operation": "dynamodb:", "fault": "throttle", "rate": 0.05}]}
  GET  /__faults  the rules, and how many requests each operation saw and how many were faulted
  GET  /__sent    every email SES accepted through the proxy: {"emails": [{"to": [...], "text": "..."}]},
                  what a mailbox would hold, without moto's data.json (a dump of all of moto's
                  state that holds moto, serial, for seconds once the tables are large)

  tests/fault_proxy.py --port 4590 --upstream http://127.0.0.1:4566

Stdlib only. In-process tests inject the same faults inside the SDK (tests/src/faults.rs); this
proxy serves the local stack and the load run (tests/bench/load.py), where the functions are
separate processes.
"""

import argparse
import http.client
import json
import random
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = {"rules": [], "seen": {}, "faulted": {}}
SENT = []
LOCK = threading.Lock()
UPSTREAM = None


def operation(method, path, headers, body):
    target = headers.get("X-Amz-Target", "")
    if target.startswith("DynamoDB_"):
        return "dynamodb:" + target.split(".", 1)[1]
    if target.startswith("DynamoDBStreams_"):
        return "dynamodbstreams:" + target.split(".", 1)[1]
    if target.startswith("secretsmanager."):
        return "secretsmanager:" + target.split(".", 1)[1]
    if path.startswith("/v2/email/outbound-emails"):
        return "sesv2:SendEmail"
    if path.startswith("/v2/email/"):
        return "sesv2:" + method + path
    if headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
        action = urllib.parse.parse_qs(body.decode(errors="replace")).get("Action", ["?"])[0]
        return "sns:" + action
    return "other:" + method + path


def error_body(op, status, kind):
    if op.startswith("sns:"):
        xml = f"<ErrorResponse><Error><Type>Sender</Type><Code>{kind}</Code><Message>injected</Message></Error></ErrorResponse>"
        return xml.encode(), "text/xml"
    return json.dumps({"__type": f"com.amazonaws#{kind}", "message": "injected"}).encode(), "application/x-amz-json-1.0"


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):
            pass  # the client gave up on the connection (an attempt that timed out), as on AWS

    def do_control(self):
        if self.command == "PUT":
            length = int(self.headers.get("Content-Length") or 0)
            rules = json.loads(self.rfile.read(length) or b"{}").get("rules", [])
            with LOCK:
                STATE["rules"] = rules
        with LOCK:
            answer = json.dumps(STATE).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def do_sent(self):
        with LOCK:
            answer = json.dumps({"emails": SENT}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def handle_any(self):
        if self.path.startswith("/__faults"):
            return self.do_control()
        if self.path.startswith("/__sent"):
            return self.do_sent()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        op = operation(self.command, self.path, self.headers, body)
        with LOCK:
            STATE["seen"][op] = STATE["seen"].get(op, 0) + 1
            rule = next(
                (r for r in STATE["rules"] if op.startswith(r["operation"]) and random.random() < r.get("rate", 1.0)),
                None,
            )
            if rule:
                STATE["faulted"][op] = STATE["faulted"].get(op, 0) + 1
        fault = rule["fault"] if rule else None
        if fault in ("throttle", "error"):
            status, kind = (400, "Throttling" if op.startswith("sns:") else "ThrottlingException") \
                if fault == "throttle" else (500, "InternalServerError")
            payload, content_type = error_body(op, status, kind)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("x-amzn-ErrorType", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        if fault in ("reset", "hang"):
            if fault == "hang":
                time.sleep(rule.get("seconds", 3600))
            self.close_connection = True
            self.connection.close()
            return
        if fault == "slow":
            time.sleep(rule.get("seconds", 1))
        self.forward(op, body)

    def forward(self, op, body):
        upstream = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        payload = answer.read()
        if op == "sesv2:SendEmail" and answer.status == 200:
            email = json.loads(body)
            simple = email.get("Content", {}).get("Simple", {})
            with LOCK:
                SENT.append({"to": email.get("Destination", {}).get("ToAddresses", []),
                             "text": simple.get("Body", {}).get("Text", {}).get("Data", "")})
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        try:
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client's attempt timed out first (a slow upstream): it retries, as on AWS.
            with LOCK:
                STATE["abandoned"] = STATE.get("abandoned", 0) + 1
            self.close_connection = True
        upstream.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any


def main():
    global UPSTREAM
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4590)
    parser.add_argument("--upstream", default="http://127.0.0.1:4566")
    args = parser.parse_args()
    UPSTREAM = urllib.parse.urlparse(args.upstream)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Proxy)
    server.daemon_threads = True
    print(f"fault-proxy: 127.0.0.1:{args.port} -> {args.upstream}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
