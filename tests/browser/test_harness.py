"""Self-tests of conftest.py's harness on small static pages served from a thread here, with
the CSP the hosted pages will send. Nothing here needs the local stack."""
import http.server
import json
import os
import struct
import threading
import time
import zlib

import pytest
from playwright.sync_api import Error as PlaywrightError

from conftest import (
    AXE_JS, CODE, assert_accessible, axe_violations, code_sent_to, first_load, messages_to,
    SENT_MESSAGES, sent_mark, totp,
)

CSP = "default-src 'self'; script-src 'self'; frame-ancestors 'none'"


class Site:
    """http.server on 127.0.0.1 (random port), in a thread. Routes map a path to
    (body or a function returning it, content type, CSP or None); requests are recorded."""

    def __init__(self):
        self.routes = {}
        self.seen = []  # (path, headers)
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the service's HTTP/1.1+ answers

            def do_GET(self):
                site.seen.append((self.path, dict(self.headers)))
                body, content_type, csp = site.routes.get(self.path, (b"not found", "text/plain", CSP))
                status = 200 if self.path in site.routes else 404
                body = body() if callable(body) else body
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                if csp:
                    self.send_header("content-security-policy", csp)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, path, body, content_type="text/html; charset=utf-8", csp=CSP):
        self.routes[path] = (body.encode() if isinstance(body, str) else body, content_type, csp)
        return self.url + path


@pytest.fixture(scope="module")
def site():
    site = Site()
    yield site
    site.server.shutdown()


def html(body, title="Sign in", script=None):
    tag = f'<script src="{script}" defer></script>' if script else ""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>{tag}</head>'
            f"<body>{body}</body></html>")


ACCESSIBLE = html("""
<main><h1>Sign in</h1>
<form><label for="login">Phone or e-mail</label><input id="login" name="login" autocomplete="username">
<label for="pw">Password</label><input id="pw" name="password" type="password" autocomplete="current-password">
<button type="submit">Sign in</button></form>
<p id="ran">scripts off</p></main>""", script="/app.js")
# An unlabelled field and an image button with no text: both critical in axe.
INACCESSIBLE = html("""
<main><h1>Sign in</h1><form><input id="nameless" type="text"><input id="imgbutton" type="image" src="/go.png"></form></main>""")


def png(width, height):
    """A valid PNG (Chromium stops reading an image it cannot decode, so its size would be off)."""
    raw = b"".join(b"\x00" + bytes((x * 7 + y * 13) % 256 for x in range(width * 3)) for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 0)) + chunk(b"IEND", b"")


# --- accessibility ---------------------------------------------------------------------------

def test_accessible_page_passes_under_the_csp(page, site):
    site.add("/app.js", "document.getElementById('ran').textContent = 'scripts on';", "text/javascript")
    page.goto(site.add("/accessible", ACCESSIBLE))
    assert page.text_content("#ran") == "scripts on"  # the page's own 'self' script runs
    assert [v for v in assert_accessible(page) if v["impact"] in ("serious", "critical")] == []


@pytest.mark.parametrize("device", ["phone"])
@pytest.mark.parametrize("locale", ["en-US"])
def test_serious_violations_fail_and_are_all_listed(page, site):
    site.add("/go.png", png(4, 4), "image/png")
    page.goto(site.add("/inaccessible", INACCESSIBLE))
    with pytest.raises(AssertionError) as failed:
        assert_accessible(page)
    message = str(failed.value)
    assert "- label (critical)" in message and "#nameless" in message
    assert "- input-image-alt (critical)" in message and "#imgbutton" in message


@pytest.mark.parametrize("device", ["desktop"])
@pytest.mark.parametrize("locale", ["en-US"])
def test_add_script_tag_is_refused_by_the_csp_and_axe_still_runs(page, site):
    page.goto(site.add("/csp", ACCESSIBLE))
    with open(AXE_JS, encoding="utf-8") as source:
        axe = source.read()
    with pytest.raises(PlaywrightError, match="Content Security Policy"):
        page.add_script_tag(content=axe)
    assert page.evaluate("typeof window.axe") == "undefined"
    axe_violations(page)  # injected by evaluate, which CSP does not govern
    assert page.evaluate("typeof window.axe") == "object"
    with pytest.raises(PlaywrightError, match="Content Security Policy"):
        page.add_script_tag(content="window.inline = 1")  # and the page's CSP is still in force


# --- contexts --------------------------------------------------------------------------------

def test_device_and_locale_reach_the_page_and_its_requests(page, site, device, locale):
    page.goto(site.add(f"/whoami-{device}-{locale}", html("<main><h1>Hi</h1></main>")))
    headers = next(h for path, h in reversed(site.seen) if path == f"/whoami-{device}-{locale}")
    assert headers["Accept-Language"].split(",")[0] == locale
    seen = page.evaluate("({lang: navigator.language, width: innerWidth, dpr: devicePixelRatio,"
                         " touch: navigator.maxTouchPoints > 0, ua: navigator.userAgent})")
    assert seen["lang"] == locale
    if device == "phone":
        assert (seen["width"], seen["dpr"], seen["touch"]) == (360, 2, True)
        assert "Mobile" in seen["ua"]
    else:
        assert (seen["width"], seen["dpr"], seen["touch"]) == (1280, 1, False)


@pytest.mark.parametrize("device", ["phone"])
@pytest.mark.parametrize("locale", ["zh-CN"])
def test_a_new_context_shares_nothing(new_context, site):
    url = site.add("/state", html("<main><h1>State</h1></main>"))
    first = new_context().new_page()
    first.goto(url)
    first.evaluate("localStorage.setItem('k', 'v'); document.cookie = 'session=1; path=/'")
    assert first.context.cookies() and first.evaluate("localStorage.getItem('k')") == "v"
    fresh = new_context().new_page()
    fresh.goto(url)
    assert fresh.context.cookies() == [] and fresh.evaluate("localStorage.getItem('k')") is None
    assert fresh.evaluate("navigator.language") == "zh-CN"  # same device and locale as the test's


# --- what a page loads -----------------------------------------------------------------------

@pytest.mark.parametrize("device", ["phone"])
@pytest.mark.parametrize("locale", ["en-US"])
def test_byte_counter_counts_a_known_size_asset(new_context, site):
    script = b"//" + b"x" * 12_343  # 12,345 bytes
    image = png(40, 40)
    page_html = html('<main><h1>Sized</h1><img src="/sized.png" alt="a square"></main>', script="/sized.js")
    site.add("/sized.js", script, "text/javascript")
    site.add("/sized.png", image, "image/png")
    url = site.add("/sized", page_html)
    load = first_load(new_context(base_url=site.url), url, base_url=site.url)
    by_url = {f.url: f for f in load.fetched}
    assert by_url[site.url + "/sized.js"].body_bytes == 12_345
    assert by_url[site.url + "/sized.png"].body_bytes == len(image)
    assert by_url[url].body_bytes == len(page_html.encode())
    assert load.body_bytes == 12_345 + len(image) + len(page_html.encode())
    assert load.header_bytes > 0 and load.other_origins() == []


@pytest.mark.parametrize("device", ["desktop"])
@pytest.mark.parametrize("locale", ["hi-IN"])
def test_requests_to_other_origins_are_reported(new_context, site):
    body = '<main><h1>Tracked</h1><img src="http://127.0.0.2:1/x.png" alt="pixel"></main>'
    strict = first_load(new_context(), site.add("/third-party", html(body)), base_url=site.url)
    assert strict.other_origins() == ["http://127.0.0.2:1/x.png"]
    assert [f.failure for f in strict.fetched if f.url.startswith("http://127.0.0.2")] == ["csp"]
    # A CSP that lets it through: the browser then really asks (port 1 is one Chromium refuses).
    allowing = CSP + "; img-src 'self' http://127.0.0.2:1"
    loose = first_load(new_context(), site.add("/third-party-allowed", html(body), csp=allowing), base_url=site.url)
    assert loose.other_origins() == ["http://127.0.0.2:1/x.png"]
    failures = [f.failure for f in loose.fetched if f.url.startswith("http://127.0.0.2")]
    assert len(failures) == 1 and failures[0] not in (None, "csp")


# --- codes -----------------------------------------------------------------------------------

# RFC 6238 appendix B, SHA-1 rows (8 digits there; an app shows the last 6).
RFC6238_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of "12345678901234567890"
RFC6238_SHA1 = [(59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"),
                (1234567890, "89005924"), (2000000000, "69279037"), (20000000000, "65353130")]


@pytest.mark.parametrize("at,expected", RFC6238_SHA1)
def test_totp_matches_rfc6238(at, expected):
    assert totp(RFC6238_SECRET, at) == expected[-6:]


def test_totp_reads_a_secret_as_a_person_types_it_and_defaults_to_now():
    assert totp("gezd gnbv gy3t qojq gezd gnbv gy3t qojq", 59) == "287082"
    while True:  # a 30-s step may turn between the two calls: then take them again
        before = time.time()
        now = totp(RFC6238_SECRET)
        if int(before) // 30 == int(time.time()) // 30:
            break
    assert now == totp(RFC6238_SECRET, before)


class FakeMoto:
    """moto's /moto-api/data.json, as much of it as the helpers read."""

    def __init__(self):
        self.sms, self.email = [], []
        self.lock = threading.Lock()

    def text(self, to, message):
        with self.lock:
            self.sms.append({"message_id": os.urandom(4).hex(), "phone_number": to, "message": message})

    def mail(self, to, subject, body):
        with self.lock:
            self.email.append({"id": os.urandom(4).hex(), "source": "no-reply@example.com", "subject": subject,
                               "body": body, "destinations": {"ToAddresses": [to], "CcAddresses": [], "BccAddresses": []}})

    def data_json(self):
        with self.lock:
            return json.dumps({"sns": {"SMS": list(self.sms), "Topic": []}, "ses": {"Message": list(self.email)},
                               "dynamodb": {"Item": []}}).encode()


@pytest.fixture
def moto(site):
    fake = FakeMoto()
    prefix = f"/moto-{os.urandom(4).hex()}"
    site.add(prefix + SENT_MESSAGES, fake.data_json, "application/javascript", csp=None)
    fake.url = site.url + prefix
    return fake


def english(code):
    return f"{code} is your Mi Account verification code. It expires in 10 minutes. Never share it with anyone."


def test_code_sent_to_reads_the_newest_code_to_that_recipient(moto):
    moto.text("+919812345678", english("111111"))
    moto.text("+919800000000", english("999999"))  # someone else's phone
    moto.text("+919812345678", english("222222"))
    moto.mail("ana@example.org", "Mi Account验证码", "【Mi Account】验证码：333333，10分钟内有效。请勿将验证码告诉任何人。")
    assert code_sent_to("+919812345678", moto=moto.url) == "222222"
    assert code_sent_to("ana@example.org", moto=moto.url) == "333333"  # Chinese: no spaces round it
    assert [m.subject for m in messages_to("ana@example.org", moto=moto.url)] == ["Mi Account验证码"]


def test_code_sent_to_skips_a_newer_message_without_a_code(moto):
    moto.mail("bo@example.org", "Your Mi Account verification code", english("444444"))
    moto.mail("bo@example.org", "Mi Account: New sign-in to your account",
              "Mi Account: New sign-in to your account (203.0.113.x). If this wasn't you, reset your password now.")
    assert code_sent_to("bo@example.org", moto=moto.url) == "444444"


def test_code_sent_to_after_a_mark_waits_for_a_new_code(moto):
    moto.text("+8613800138000", english("555555"))
    mark = sent_mark(moto=moto.url)
    started = time.time()
    with pytest.raises(AssertionError, match=r"no code was sent to \+8613800138000 within 0.5 s \(received: nothing\)"):
        code_sent_to("+8613800138000", after=mark, wait=0.5, moto=moto.url)
    assert time.time() - started < 5
    # The courier delivers a moment after the page's request is answered.
    threading.Timer(0.6, moto.text, ("+8613800138000", english("666666"))).start()
    assert code_sent_to("+8613800138000", after=mark, wait=10, moto=moto.url) == "666666"
    assert code_sent_to("+8613800138000", moto=moto.url) == "666666"


def test_code_pattern_takes_six_digits_only():
    assert [m.group() for m in CODE.finditer("+919812345678 1234567 12345 123456. 654321，")] == ["123456", "654321"]
