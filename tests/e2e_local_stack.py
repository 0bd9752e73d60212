#!/usr/bin/env python3
"""End to end through the local stack, as a frontend calls it.

Starts infra/local-stack.sh (moto + `cargo lambda watch` on 127.0.0.1:9000) on a fresh
table, signs up by email and by phone over HTTP, reads the codes from moto's record of
sent messages, and checks that a code confirms once and only once. Stdlib only, but for
argon2-cffi (infra/ensure-tools.sh test), which solves the CAPTCHA's Argon2id proof of work.
"""
import base64
import hashlib
import hmac
import json
import os
import struct
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from argon2.low_level import Type, hash_secret_raw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = int(os.environ.get("LOCAL_API_PORT", "9000"))
API = f"http://127.0.0.1:{PORT}"
MOTO = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
PASSWORD = "Tr0ub4dor&3-horse"

results = {"passed": 0, "failed": 0}


def call(method, path, body=None, timeout=120, session=None):
    data = None if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    if session:
        headers["authorization"] = f"Bearer {session}"
    request = urllib.request.Request(API + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, parsed(response.read())
    except urllib.error.HTTPError as error:
        return error.code, parsed(error.read())


def parsed(body):
    """The JSON of an answer; the text itself when it is not JSON (an error page of watch itself)."""
    try:
        return json.loads(body or b"null")
    except ValueError:
        return body.decode(errors="replace")


def sent_messages():
    # The two services that send only (infra/moto_serial.py): the whole dump takes seconds.
    with urllib.request.urlopen(MOTO + "/moto-api/data.json?services=ses,sns", timeout=30) as response:
        data = json.loads(response.read())
    sms = [(m["phone_number"], m["message"]) for m in data.get("sns", {}).get("SMS", [])]
    emails = [(to, m["body"]) for m in data.get("ses", {}).get("Message", []) for to in m["destinations"]["ToAddresses"]]
    return sms + emails


def code_sent_to(recipient, wait=30):
    """The code in the newest message to `recipient`: the courier sends it from the outbox a
    moment after the request is answered (infra/stream-courier.py polls the stream)."""
    deadline = time.time() + wait
    while True:
        for to, text in reversed(sent_messages()):
            if to == recipient:
                return next(w.strip(".,") for w in text.split() if w.strip(".,").isdigit() and len(w.strip(".,")) == 6)
        if time.time() > deadline:
            raise AssertionError(f"nothing was sent to {recipient} within {wait} s")
        time.sleep(0.2)


def check(name, condition, detail=""):
    results["passed" if condition else "failed"] += 1
    print(f"{'ok  ' if condition else 'FAIL'} {name} {'' if condition else detail}", flush=True)


def solved_captcha():
    """Fetch a proof-of-work challenge and solve it, as the ALTCHA widget does in a browser:
    ALTCHA v2 with Argon2id, the key of counter n derived from the nonce's bytes followed by n as
    4 big-endian bytes, until a key starts with the challenge's keyPrefix."""
    status, puzzle = call("GET", "/v1/captcha")
    check("CAPTCHA challenge issued", status == 200, puzzle)
    p = puzzle["parameters"]
    check("CAPTCHA is Argon2id", p["algorithm"] == "ARGON2ID", p)
    nonce, salt, prefix = bytes.fromhex(p["nonce"]), bytes.fromhex(p["salt"]), p["keyPrefix"].lower()
    for counter in range(1 << 20):
        key = hash_secret_raw(
            nonce + counter.to_bytes(4, "big"), salt, time_cost=p["cost"], memory_cost=p["memoryCost"],
            parallelism=p.get("parallelism", 1), hash_len=p["keyLength"], type=Type.ID,
        ).hex()
        if key.startswith(prefix):
            solution = {"challenge": puzzle, "solution": {"counter": counter, "derivedKey": key}}
            return base64.b64encode(json.dumps(solution).encode()).decode()
    raise AssertionError("no counter solves the CAPTCHA")


def verified_token(request_body, recipient):
    status, refused = call("POST", "/v1/verifications", request_body)
    check("no code without a CAPTCHA", status == 403 and refused["error"]["code"] == "captcha_failed", refused)
    status, sent = call("POST", "/v1/verifications", request_body | {"captcha": solved_captcha()})
    check(f"{request_body['purpose']} code requested by {request_body['channel']}", status == 202, sent)
    code = code_sent_to(recipient)
    path = f"/v1/verifications/{sent['verification_id']}/confirm"
    status, confirmed = call("POST", path, {"code": code})
    check("code confirmed", status == 200 and "verification_token" in confirmed, confirmed)
    status, again = call("POST", path, {"code": code})
    check("a second confirm is refused", status == 410 and again["error"]["code"] == "verification_expired", again)
    return confirmed["verification_token"]


def sign_up(request_body, recipient):
    token = verified_token(request_body, recipient)
    body = {"verification_token": token, "password": PASSWORD, "accept_terms": True}
    status, created = call("POST", "/v1/accounts", body)
    check("account created", status == 201 and created.get("login") == recipient, created)


def totp(secret_base32, at):
    """What an authenticator app shows (RFC 6238, SHA-1, 6 digits, 30 s)."""
    key = base64.b32decode(secret_base32 + "=" * (-len(secret_base32) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def account_journey(login):
    """Sign in, add both recovery contacts, turn on 2FA, then sign in from a new and a remembered device."""
    status, signed_in = call("POST", "/v1/sessions", {"login": login, "password": PASSWORD})
    check("signed in with the password", status == 201, signed_in)
    session = signed_in["session_token"]
    email = f"recovery.{secrets.token_hex(4)}@example.com"
    token = verified_token({"channel": "email", "email": email, "purpose": "add_contact"}, email)
    status, added = call("POST", "/v1/account/recovery-contacts", {"verification_token": token, "password": PASSWORD}, session=session)
    check("recovery email added", status == 201, added)
    phone = "+9198" + "".join(secrets.choice("0123456789") for _ in range(8))
    token = verified_token({"channel": "sms", "phone": phone, "purpose": "add_contact"}, phone)
    status, added = call("POST", "/v1/account/recovery-contacts", {"verification_token": token, "password": PASSWORD}, session=session)
    check("recovery phone added", status == 201, added)

    status, setup = call("POST", "/v1/account/two-factor", {"method": "totp", "password": PASSWORD}, session=session)
    check("authenticator setup started", status == 200 and "secret" in setup, setup)
    status, enabled = call("POST", "/v1/account/two-factor/confirm", {"code": totp(setup["secret"], time.time())}, session=session)
    check("2FA on, with 10 recovery codes", status == 200 and len(enabled.get("recovery_codes", [])) == 10, enabled)
    status, page = call("GET", "/v1/account", session=session)
    check("the account page lists 3 contacts and 2FA", status == 200 and len(page["contacts"]) == 3 and page["two_factor"]["enabled"], page)

    status, challenge = call("POST", "/v1/sessions", {"login": login, "password": PASSWORD})
    check("a new device needs a second factor", status == 200 and challenge.get("mfa_required") is True, challenge)
    answer = {"challenge_id": challenge["challenge_id"], "method": "totp", "code": totp(setup["secret"], time.time() + 30), "remember_device": True}
    status, second = call("POST", "/v1/sessions/mfa", answer)
    check("signed in with the authenticator code", status == 201 and "device_token" in second, second)
    status, remembered = call("POST", "/v1/sessions", {"login": login, "password": PASSWORD, "device_token": second["device_token"]})
    check("a remembered device signs in without a second factor", status == 201 and "session_token" in remembered, remembered)
    status, _ = call("DELETE", "/v1/sessions/current", session=remembered["session_token"])
    check("signed out", status == 204)


# One route of each function, answered with a 4xx before any state is touched.
WARM_UP = [
    ("GET", "/v1/captcha?difficulty=x"),
    ("POST", "/v1/verifications"),
    ("POST", "/v1/verifications/x/confirm"),
    ("POST", "/v1/accounts"),
    ("POST", "/v1/sessions"),
    ("POST", "/v1/password-resets"),
    ("POST", "/v1/account/recovery-contacts"),
    ("POST", "/v1/account/two-factor"),
    ("GET", "/v1/account"),
]


def warm_up(stack, deadline):
    """Start every function once, before the journey: `cargo lambda watch` starts a function's
    process on its first request, and a request can be lost while that process starts (seen once
    in CI as a request that never got an answer). Requests here change nothing, so they are retried."""
    for method, path in WARM_UP:
        while True:
            if stack.poll() is not None:
                raise SystemExit(f"local-stack.sh exited with {stack.returncode}")
            if time.time() > deadline:
                raise SystemExit(f"{method} {path}: no answer from the local API in time")
            try:
                status, _ = call(method, path, {} if method == "POST" else None, timeout=180)
                print(f"e2e: {method} {path} answered {status}", flush=True)
                if status < 500:
                    break
                time.sleep(1)
            except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                print(f"e2e: {method} {path}: {error}; trying again", flush=True)
                time.sleep(1)


def print_log_tail(path, lines=40):
    """The end of the local stack's output (without watch's one-line dump of its configuration)."""
    with open(path, errors="replace") as log:
        tail = [line for line in log if "run{config=" not in line][-lines:]
    print(f"e2e: the last {len(tail)} lines of {path}:", flush=True)
    for line in tail:
        print("  " + line.rstrip()[:400], flush=True)


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
        warm_up(stack, time.time() + 900)
        email = f"e2e.{secrets.token_hex(4)}@example.com"
        sign_up({"channel": "email", "email": email, "purpose": "sign_up"}, email)
        national = "9" + "".join(secrets.choice("0123456789") for _ in range(9))
        sign_up({"channel": "sms", "country_code": "+91", "phone": national, "purpose": "sign_up"}, "+91" + national)
        account_journey("+91" + national)
    except BaseException:
        print_log_tail(log_path)
        raise
    finally:
        os.killpg(stack.pid, signal.SIGTERM)
        stack.wait(timeout=30)
    if results["failed"]:
        print_log_tail(log_path)
    print(f"e2e: {results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
