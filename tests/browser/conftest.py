"""Fixtures and helpers for the browser tests of the hosted pages (Playwright's sync API).

Debian's chromium is launched directly (`playwright install` cannot download its browser
here), so there is no pytest-playwright: its fixtures would need the same launch overrides
and add nothing we use. Helpers are plain functions; a test imports them:

    from conftest import BASE_URL, assert_accessible, code_sent_to, first_load, sent_mark, totp

Journeys that several tests share are here too: solve_captcha, create_account, sign_up_by_email, fresh_email,
turn_on_authenticator, fresh_totp.

Fixtures: `browser` (one per session), `device` x `locale` (parametrized), `new_context`
(a fresh "new browser" per call: no cookies, storage or cache shared), `context`, `page`.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import struct
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import sync_playwright

HERE = os.path.dirname(os.path.abspath(__file__))
BASE_URL = os.environ.get("BROWSER_BASE_URL", "http://127.0.0.1:9000").rstrip("/")
MOTO_URL = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566").rstrip("/")
CHROMIUM = os.environ.get("BROWSER_CHROMIUM", "/usr/bin/chromium")
# Background fetches (component updates, sync, first-run pages) would add requests to other
# origins that no page made; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
AXE_JS = os.path.join(HERE, "node_modules", "axe-core", "axe.min.js")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

DEVICES = {
    # A common small Android phone; is_mobile makes Chromium honour <meta name=viewport>.
    "phone": {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}
LOCALES = ["en-US", "zh-CN", "hi-IN"]


def _narrowed(env, allowed):
    """BROWSER_DEVICES=phone / BROWSER_LOCALES=en-US,zh-CN: a smaller matrix for a quick run."""
    chosen = [v.strip() for v in os.environ.get(env, "").split(",") if v.strip()] or list(allowed)
    unknown = set(chosen) - set(allowed)
    if unknown:
        raise pytest.UsageError(f"{env}: unknown {sorted(unknown)}; choose from {list(allowed)}")
    return chosen


# --- browser and contexts ------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(params=_narrowed("BROWSER_DEVICES", DEVICES))
def device(request):
    """"phone" or "desktop"; a test narrows it with @pytest.mark.parametrize("device", ["phone"])."""
    return request.param


@pytest.fixture(params=_narrowed("BROWSER_LOCALES", LOCALES))
def locale(request):
    """The browser's language: navigator.language and the Accept-Language header follow it."""
    return request.param


def context_options(browser, device, locale, **overrides):
    options = dict(DEVICES[device], locale=locale, base_url=BASE_URL)
    if device == "phone":
        # What Chrome on Android sends, so pages see a phone's user agent, not HeadlessChrome.
        major = browser.version.split(".")[0]
        options["user_agent"] = (
            f"Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{major}.0.0.0 Mobile Safari/537.36"
        )
    options.update(overrides)
    return options


def watch_for_trouble(ctx, trouble):
    """Notes what went wrong in the pages of `ctx` (a request that failed or was answered with a
    5xx, a script error, an error on the console): what a failed test prints beside its trace,
    since a step that waits in vain (a widget that never rendered) cannot say why."""
    def response(r):
        if r.status >= 500:
            trouble.append(f"{r.status} {r.request.method} {r.url}")

    ctx.on("requestfailed", lambda r: trouble.append(f"failed {r.method} {r.url}: {r.failure}"))
    ctx.on("response", response)
    ctx.on("weberror", lambda e: trouble.append(f"script error: {e.error}"))
    ctx.on("console", lambda m: m.type == "error" and trouble.append(f"console: {m.text}"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    trouble = getattr(item, "browser_trouble", None)
    if report.failed and trouble:
        report.sections.append(("what the pages met", "\n".join(trouble[-40:])))


@pytest.fixture
def new_context(request, browser, device, locale):
    """new_context(**options) -> a fresh context ("a new browser"): nothing shared with any
    other (cookies, storage, HTTP cache). Same device and locale unless overridden, e.g.
    new_context(locale="zh-CN") or new_context(base_url=...). All are closed after the test."""
    made = []
    request.node.browser_trouble = []

    def make(**overrides):
        ctx = browser.new_context(**context_options(browser, device, locale, **overrides))
        # Generous: a function's first request under `cargo lambda watch` starts its process.
        ctx.set_default_timeout(15_000)
        ctx.set_default_navigation_timeout(60_000)
        watch_for_trouble(ctx, request.node.browser_trouble)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


@pytest.fixture
def context(new_context):
    return new_context()


@pytest.fixture
def page(context):
    return context.new_page()


# --- codes, as a person reads them on their phone or in their inbox -------------------------

@dataclass
class Sent:
    channel: str  # "sms" or "email"
    to: str
    subject: str  # "" for an SMS
    text: str


# moto's dump of what it tracks, of the two services that send only (infra/moto_serial.py):
# the whole dump holds every DynamoDB item and takes seconds late in a run.
SENT_MESSAGES = "/moto-api/data.json?services=ses,sns"


def sent_messages(moto=None):
    """Every message moto has "sent", oldest first: SMS (sns.SMS[]) then e-mail (ses.Message[]),
    each in the order it was sent (moto has no timestamps)."""
    with urllib.request.urlopen((moto or MOTO_URL) + SENT_MESSAGES, timeout=30) as response:
        data = json.loads(response.read())
    sms = [Sent("sms", m["phone_number"], "", m["message"]) for m in data.get("sns", {}).get("SMS", [])]
    emails = [
        Sent("email", to, m.get("subject") or "", m.get("body") or "")
        for m in data.get("ses", {}).get("Message", [])
        for to in m["destinations"]["ToAddresses"]
    ]
    return sms + emails


@dataclass(frozen=True)
class Mark:
    """Where each channel's record stood: what a code_sent_to(after=mark) may not return."""
    sms: int
    email: int


def sent_mark(moto=None):
    """Take before the click that sends a code: code_sent_to(..., after=mark) then waits for
    a message sent after it, never an older code to the same person."""
    messages = sent_messages(moto)
    return Mark(sum(m.channel == "sms" for m in messages), sum(m.channel == "email" for m in messages))


def _after(messages, mark):
    if mark is None:
        return messages
    sms = [m for m in messages if m.channel == "sms"][mark.sms:]
    emails = [m for m in messages if m.channel == "email"][mark.email:]
    return sms + emails


# A run of exactly six digits: the English text starts "123456 is your ...", the Chinese one
# is "【…】验证码：123456，…" with no spaces, so a split on whitespace (as e2e does) misses it.
CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")


def messages_to(recipient, after=None, moto=None):
    """What `recipient` (an E.164 phone or an e-mail address, as sent) received, oldest first."""
    return [m for m in _after(sent_messages(moto), after) if m.to == recipient]


def code_sent_to(recipient, after=None, wait=30, moto=None):
    """The code in the newest message to `recipient` that has one (sent after `after`, a
    sent_mark(), when given). The courier sends from the outbox a moment after the page's
    request is answered, so this polls, as tests/e2e_local_stack.py does."""
    deadline = time.time() + wait
    while True:
        received = messages_to(recipient, after, moto)
        for message in reversed(received):
            found = CODE.search(message.text)
            if found:
                return found.group()
        if time.time() > deadline:
            seen = "; ".join(f"{m.channel}: {m.text[:80]!r}" for m in received) or "nothing"
            raise AssertionError(f"no code was sent to {recipient} within {wait} s (received: {seen})")
        time.sleep(0.2)


def totp(secret_base32, at=None):
    """What an authenticator app shows (RFC 6238, SHA-1, 6 digits, 30 s), now or at `at` (Unix
    seconds). Spaces and lower case are accepted, as apps accept a secret typed from a page."""
    secret = re.sub(r"\s", "", secret_base32).upper()
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int(time.time() if at is None else at) // 30
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


# --- accessibility ---------------------------------------------------------------------------

def axe_violations(page, tags=AXE_TAGS):
    """axe-core's violations on the page as it is now. Injected with page.evaluate: the pages'
    CSP (script-src 'self') refuses add_script_tag's inline <script>, while evaluate runs
    through the DevTools protocol, which CSP does not govern. So the page keeps its real CSP
    (no bypass_csp, no reload) and axe sees the state the test left it in."""
    if not page.evaluate("typeof window.axe === 'object'"):
        if not os.path.exists(AXE_JS):
            raise FileNotFoundError(f"{AXE_JS} is missing: run infra/browser-tools.sh")
        with open(AXE_JS, encoding="utf-8") as source:
            page.evaluate(source.read() + "\n;undefined")
    return page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " targets: v.nodes.map(n => n.target.join(' '))})))",
        tags,
    )


def assert_accessible(page, tags=AXE_TAGS):
    """Fails listing every serious or critical axe violation; returns the minor/moderate ones
    (for notes)."""
    violations = axe_violations(page, tags)
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    if bad:
        lines = [f"- {v['id']} ({v['impact']}): {v['help']}: {', '.join(v['targets'])}" for v in bad]
        raise AssertionError(f"{len(bad)} serious/critical accessibility violations on {page.url}:\n" + "\n".join(lines))
    return violations


# --- what a page loads -----------------------------------------------------------------------

def origin(url):
    parts = urllib.parse.urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{parts.hostname}:{port}"


@dataclass
class Fetched:
    url: str
    resource_type: str
    status: int | None  # None: failed (failure says why, "csp" when the page's CSP refused it)
    body_bytes: int  # the response body as transferred (compressed when it was)
    header_bytes: int
    failure: str | None = None


@dataclass
class RequestLog:
    """Records every request a page makes from now on. Attach before page.goto()."""
    page: object
    base_url: str = BASE_URL
    fetched: list = field(default_factory=list)
    _pending: set = field(default_factory=set)

    def __post_init__(self):
        self.page.on("request", self._started)
        self.page.on("requestfinished", self._finished)
        self.page.on("requestfailed", self._failed)

    def _started(self, request):
        self._pending.add(request)

    def _finished(self, request):
        self._pending.discard(request)
        sizes = request.sizes()
        response = request.response()
        self.fetched.append(Fetched(
            request.url, request.resource_type, response.status if response else None,
            max(sizes["responseBodySize"], 0), max(sizes["responseHeadersSize"], 0),
        ))

    def _failed(self, request):
        self._pending.discard(request)
        self.fetched.append(Fetched(request.url, request.resource_type, None, 0, 0, request.failure))

    def settle(self, timeout=5.0):
        """Waits (bounded) until every request seen has finished or failed."""
        deadline = time.time() + timeout
        while self._pending and time.time() < deadline:
            self.page.wait_for_timeout(50)

    @property
    def body_bytes(self):
        return sum(f.body_bytes for f in self.fetched)

    @property
    def header_bytes(self):
        return sum(f.header_bytes for f in self.fetched)

    def other_origins(self):
        """URLs requested from an origin other than base_url's (including ones that failed or
        the CSP refused: the page still asked for them). data: and blob: URLs are not requests."""
        own = origin(self.base_url)
        return [f.url for f in self.fetched if f.url.split(":", 1)[0] in ("http", "https", "ws", "wss")
                and origin(f.url) != own]


def first_load(context, url, base_url=None):
    """Opens `url` in a new page of `context` (pass a fresh one, new_context(), so nothing is
    cached) and returns its RequestLog once the network is idle: .body_bytes, .header_bytes,
    .fetched (per request), .other_origins(). For the notes, not for timing assertions."""
    page = context.new_page()
    log = RequestLog(page, base_url or BASE_URL)
    page.goto(url, wait_until="networkidle")
    log.settle()
    return log


# --- steps several journeys share ------------------------------------------------------------

PASSWORD = "Tr0ub4dor&3-horse"


def fresh_email():
    return f"browser.{secrets.token_hex(5)}@example.com"


def solve_captcha(page):
    """Ticks the widget's box (its label, as a person taps it) and waits for its proof of work
    to fill the form's field. The box gets the solve's minute too: a CI run once waited its 15 s
    in vain (what the pages met, printed with a failure, says why if it happens again)."""
    page.locator("altcha-widget label[for^=altcha-checkbox]").click(timeout=60_000)
    page.wait_for_function("() => document.querySelector('input[name=altcha]')?.value.length > 0", timeout=60_000)


def submit(page, action=None):
    """Clicks the submit button of the form that posts to `action` (its path, query included; the
    page's first form's when None) and waits for the page the server answers with. Playwright's
    click does not wait for a POST to be answered, and a check after it must not look at the page
    it left (a slow CI machine answers a password's Argon2id well after the click returns)."""
    form = f"form[action='{action}']" if action else "form"
    with page.expect_navigation():
        page.locator(f"{form} button[type=submit]").first.click()


def create_account(page, code, password=PASSWORD):
    """The sign-up code page: the code, the password twice, the terms, "Create account"."""
    page.fill("#code", code)
    page.fill("#password", password)
    page.fill("#password_confirm", password)
    page.check("#terms")
    submit(page)


def sign_up_by_email(page, email=None, password=PASSWORD):
    """Creates an account with a new email through the pages; returns the email, signed in on
    the security page."""
    email = email or fresh_email()
    page.goto("/signup?method=email")
    page.fill("#email", email)
    mark = sent_mark()
    solve_captcha(page)
    submit(page, "/signup")
    page.wait_for_url("**/signup/code?**")
    create_account(page, code_sent_to(email, after=mark), password)
    page.wait_for_url("**/account/security")
    return email


def fresh_totp(key, used):
    """The app's code for a 30-second step not used yet: a code is accepted once, so a second
    proof in the same step waits for the next one, as a person would."""
    while (step := int(time.time()) // 30) in used:
        time.sleep(0.5)
    used.add(step)
    return totp(key)


def turn_on_authenticator(page):
    """From the security page: proof, QR code and key, first code, recovery codes. Returns the
    key, the codes and the TOTP steps used."""
    page.locator("a[href='/account/confirm?action=totp']").click()
    page.fill("#password", PASSWORD)
    submit(page, "/account/confirm?action=totp")
    qr = page.locator("figure.qr svg")
    assert qr.is_visible(), "the QR code is drawn in the page"
    key = page.locator("#key").inner_text()
    assert re.fullmatch(r"[A-Z2-7 ]{16,}", key), key
    assert_accessible(page)
    used = set()
    page.fill("#code", fresh_totp(key, used))
    submit(page, "/account/two-factor")
    codes = page.locator("#codes code").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10
    assert_accessible(page)
    page.locator("a[href='/account/security']").first.click()
    page.wait_for_url("**/account/security")
    return key, codes, used
