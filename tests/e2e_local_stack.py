#!/usr/bin/env python3
"""End to end through the local stack, as a frontend calls it.

Starts infra/local-stack.sh (moto + `cargo lambda watch` on 127.0.0.1:9000) on a fresh
table, signs up by email and by phone over HTTP, reads the codes from moto's record of
sent messages, and checks that a code confirms once and only once. Stdlib only.
"""
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = int(os.environ.get("LOCAL_API_PORT", "9000"))
API = f"http://127.0.0.1:{PORT}"
MOTO = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
PASSWORD = "Tr0ub4dor&3-horse"

results = {"passed": 0, "failed": 0}


def call(method, path, body=None, timeout=900):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(API + path, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def sent_messages():
    with urllib.request.urlopen(MOTO + "/moto-api/data.json", timeout=30) as response:
        data = json.loads(response.read())
    sms = [(m["phone_number"], m["message"]) for m in data.get("sns", {}).get("SMS", [])]
    emails = [(to, m["body"]) for m in data.get("ses", {}).get("Message", []) for to in m["destinations"]["ToAddresses"]]
    return sms + emails


def code_sent_to(recipient):
    for to, text in reversed(sent_messages()):
        if to == recipient:
            return next(w.strip(".,") for w in text.split() if w.strip(".,").isdigit() and len(w.strip(".,")) == 6)
    raise AssertionError(f"nothing was sent to {recipient}")


def check(name, condition, detail=""):
    results["passed" if condition else "failed"] += 1
    print(f"{'ok  ' if condition else 'FAIL'} {name} {'' if condition else detail}", flush=True)


def sign_up(request_body, recipient):
    status, sent = call("POST", "/v1/verifications", request_body)
    check(f"code requested for {request_body['channel']}", status == 202, sent)
    code = code_sent_to(recipient)
    path = f"/v1/verifications/{sent['verification_id']}/confirm"
    status, confirmed = call("POST", path, {"code": code})
    check("code confirmed", status == 200 and "verification_token" in confirmed, confirmed)
    status, again = call("POST", path, {"code": code})
    check("a second confirm is refused", status == 410 and again["error"]["code"] == "verification_expired", again)
    body = {"verification_token": confirmed["verification_token"], "password": PASSWORD, "accept_terms": True}
    status, created = call("POST", "/v1/accounts", body)
    check("account created", status == 201 and created.get("login") == recipient, created)


def wait_for_api(stack, deadline):
    while time.time() < deadline:
        if stack.poll() is not None:
            raise SystemExit(f"local-stack.sh exited with {stack.returncode}")
        try:
            call("POST", "/v1/verifications", {}, timeout=900)
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(1)
    raise SystemExit("the local API did not come up in time")


def main():
    env = dict(os.environ, LOCAL_TABLE_NAME=f"accounts-e2e-{secrets.token_hex(4)}")
    os.makedirs(os.path.join(ROOT, "target"), exist_ok=True)
    log_path = os.path.join(ROOT, "target", "e2e-local-stack.log")
    log = open(log_path, "w")
    print(f"e2e: local stack output in {log_path}", flush=True)
    stack = subprocess.Popen(
        [os.path.join(ROOT, "infra", "local-stack.sh")], cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
    )
    try:
        wait_for_api(stack, time.time() + 900)
        email = f"e2e.{secrets.token_hex(4)}@example.com"
        sign_up({"channel": "email", "email": email, "purpose": "sign_up"}, email)
        national = "9" + "".join(secrets.choice("0123456789") for _ in range(9))
        sign_up({"channel": "sms", "country_code": "+91", "phone": national, "purpose": "sign_up"}, "+91" + national)
    finally:
        os.killpg(stack.pid, signal.SIGTERM)
        stack.wait(timeout=30)
    print(f"e2e: {results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
