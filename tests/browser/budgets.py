"""The pages' budgets (issue 18), measured for the notes and never asserted by the tests:

- bytes each page transfers on a first load in a new browser (nothing cached), with the
  CAPTCHA's widget, its challenge and its Argon2id worker included where the page has one
  (the box is ticked and solved before counting);
- requests to any other origin (there must be none);
- Lighthouse's mobile performance and accessibility scores of sign-up, sign-in and security.

  tests/browser/budgets.sh      (installs Lighthouse, starts the stack when none answers)

Prints a Markdown table. Lighthouse runs with its defaults: the mobile profile, simulated slow 4G
and a 4x slower CPU; the security page gets the session cookie of an account made for it.
"""
import json
import os
import subprocess
import sys
import urllib.request

from playwright.sync_api import sync_playwright

from conftest import (
    BASE_URL, CHROMIUM, CHROMIUM_ARGS, DEVICES, RequestLog, sign_up_by_email, solve_captcha,
)

HERE = os.path.dirname(os.path.abspath(__file__))
LIGHTHOUSE = os.path.join(HERE, "budgets", "node_modules", ".bin", "lighthouse")
BUDGET_BYTES = 60 * 1024
ANONYMOUS = ["/signup", "/signup?method=email", "/signin", "/reset", "/terms", "/privacy"]
SIGNED_IN = ["/account/security", "/account/password", "/account/recovery?type=phone", "/account/confirm?action=totp"]
LIGHTHOUSE_PAGES = ["/signup", "/signin", "/account/security"]


def captcha_solved_load(browser, path, storage_state=None, locale="en-US"):
    """A new browser opens `path`; a CAPTCHA on it is solved. Returns its RequestLog."""
    context = browser.new_context(**DEVICES["phone"], locale=locale, base_url=BASE_URL, storage_state=storage_state)
    context.set_default_timeout(60_000)
    page = context.new_page()
    log = RequestLog(page)
    page.goto(path, wait_until="networkidle")
    if page.locator("altcha-widget").count():
        solve_captcha(page)
        page.wait_for_load_state("networkidle")
    log.settle()
    context.close()
    return log


def transferred(log):
    """(requests, bytes on the wire, bodies and headers) of a load, each URL counted once.
    Chromium reports no transfer size for a worker's script, so one of those is fetched again,
    asking for what Chromium asks for, and its compressed body counted."""
    seen, total = set(), 0
    for fetched in log.fetched:
        if fetched.url in seen:
            continue
        seen.add(fetched.url)
        body = fetched.body_bytes
        if body == 0 and fetched.status == 200:
            request = urllib.request.Request(fetched.url, headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
            with urllib.request.urlopen(request, timeout=30) as response:
                body = len(response.read())
        total += body + fetched.header_bytes
    return len(seen), total


def lighthouse(path, cookie=None):
    """Lighthouse's performance and accessibility scores (0-100) of `path`."""
    command = [
        LIGHTHOUSE, BASE_URL + path, "--output=json", "--output-path=stdout", "--quiet",
        "--only-categories=performance,accessibility", f"--chrome-path={CHROMIUM}",
        "--chrome-flags=" + " ".join(CHROMIUM_ARGS),
    ]
    if cookie:
        command.append("--extra-headers=" + json.dumps({"Cookie": cookie}))
    report = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    if report.get("runtimeError"):
        raise RuntimeError(f"lighthouse {path}: {report['runtimeError']}")
    if report["finalDisplayedUrl"].split("?")[0] != (BASE_URL + path).split("?")[0]:
        raise RuntimeError(f"lighthouse {path} ended at {report['finalDisplayedUrl']} (signed out?)")
    categories = report["categories"]
    metrics = report["audits"]
    return {
        "performance": round(categories["performance"]["score"] * 100),
        "accessibility": round(categories["accessibility"]["score"] * 100),
        "fcp_ms": round(metrics["first-contentful-paint"]["numericValue"]),
        "lcp_ms": round(metrics["largest-contentful-paint"]["numericValue"]),
        "tbt_ms": round(metrics["total-blocking-time"]["numericValue"]),
    }


def main():
    if not os.path.exists(LIGHTHOUSE):
        sys.exit(f"{LIGHTHOUSE} is missing: run tests/browser/budgets.sh")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(**DEVICES["phone"], locale="en-US", base_url=BASE_URL)
        context.set_default_timeout(60_000)
        sign_up_by_email(context.new_page())
        state = context.storage_state()
        context.close()
        loads = [(path, "en-US", captcha_solved_load(browser, path)) for path in ANONYMOUS]
        loads += [(path, "en-US", captcha_solved_load(browser, path, state)) for path in SIGNED_IN]
        # The other languages add the widget's texts and longer words: the heaviest page again.
        loads += [("/signup", locale, captcha_solved_load(browser, "/signup", locale=locale)) for locale in ("zh-CN", "hi-IN")]
        browser.close()
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in state["cookies"])
    scores = {path: lighthouse(path, cookie if path.startswith("/account") else None) for path in LIGHTHOUSE_PAGES}

    print("| page | language | requests (distinct URLs) | transferred (KiB, bodies + headers) | of the 60 KiB budget | other origins | "
          "Lighthouse performance | accessibility | FCP / LCP / TBT (ms) |")
    print("|---|---|---:|---:|---:|---|---:|---:|---|")
    for path, locale, log in loads:
        requests, total = transferred(log)
        score = scores.get(path) if locale == "en-US" else None
        lh = (f"{score['performance']} | {score['accessibility']} | "
              f"{score['fcp_ms']} / {score['lcp_ms']} / {score['tbt_ms']}") if score else " | | "
        print(f"| `{path}` | {locale} | {requests} | {total / 1024:.1f} | {100 * total / BUDGET_BYTES:.0f}% | "
              f"{', '.join(log.other_origins()) or 'none'} | {lh} |")


if __name__ == "__main__":
    main()
