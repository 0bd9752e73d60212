"""The guide's Method 1 (phone) and Method 2 (email) in the hosted pages, as a person does it:
country picked from the list, the CAPTCHA solved by the widget in the page, the code read from
the SMS or email, the password rules ticked, the terms ticked; then signed in on the security
page. Each test runs at a phone and a desktop viewport, in English, Chinese and Hindi."""
import secrets
import urllib.error
import urllib.request

import pytest

from conftest import (
    PASSWORD, BASE_URL, RequestLog, assert_accessible, code_sent_to, create_account, fresh_email, sent_mark,
    solve_captcha, submit,
)


def new_indian_mobile():
    return "9" + "".join(secrets.choice("0123456789") for _ in range(9))


def ask_for_code(page, mark_contact):
    mark = sent_mark()
    solve_captcha(page)
    submit(page, "/signup")
    page.wait_for_url("**/signup/code?**")
    return code_sent_to(mark_contact, after=mark)


def test_phone_sign_up_as_in_the_guide(page, locale):
    page.goto("/signup")
    assert page.locator("html").get_attribute("lang") == {"en-US": "en", "zh-CN": "zh-CN", "hi-IN": "hi"}[locale]
    # The phone tab is the one selected; the country list offers India with its code.
    assert page.locator(".tabs [aria-current=page]").count() == 1
    assert page.locator("#email").count() == 0
    assert_accessible(page)
    national = new_indian_mobile()
    page.select_option("#country", "IN")
    page.fill("#phone", national)
    code = ask_for_code(page, "+91" + national)
    assert_accessible(page)
    # The rules are ticked off while the password is typed.
    page.fill("#password", "short")
    assert page.locator("#rules li.met").count() < page.locator("#rules li").count()
    create_account(page, code)
    page.wait_for_url("**/account/security")
    assert page.locator("#h-devices").count() == 1
    assert page.locator(".sessions li[aria-current=true]").count() == 1, "this browser is listed as signed in"
    assert_accessible(page)


@pytest.mark.parametrize("device", ["desktop"])
def test_email_sign_up_through_other_ways(page, locale):
    page.goto("/signup")
    page.locator("a[href='/signup?method=email']").first.click()
    email = fresh_email()
    page.fill("#email", email)
    code = ask_for_code(page, email)
    create_account(page, code)
    page.wait_for_url("**/account/security")
    assert page.locator(".sessions li[aria-current=true]").count() == 1


@pytest.mark.parametrize("device", ["phone"])
def test_a_wrong_code_and_a_weak_password_are_shown_on_the_page(page, locale):
    page.goto("/signup?method=email")
    email = fresh_email()
    page.fill("#email", email)
    code = ask_for_code(page, email)
    wrong = "000000" if code != "000000" else "111111"
    create_account(page, wrong)
    notice = page.locator("#notice")
    assert notice.is_visible() and notice.get_attribute("role") == "alert"
    assert_accessible(page)
    # The right code with a weak password: the code is used up, the form keeps its proof.
    create_account(page, code, password="password")
    assert page.locator("#notice li").count() >= 1, "the broken rules are listed"
    assert page.locator("#code").count() == 0, "no second code is asked for"
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    page.check("#terms")
    submit(page)
    page.wait_for_url("**/account/security")


@pytest.mark.parametrize("device", ["desktop"])
@pytest.mark.parametrize("locale", ["en-US"])
def test_a_cross_site_post_is_refused(page):
    page.goto("/signin")
    token = page.locator("input[name=form]").first.get_attribute("value")
    # Another site's form: another Origin, and no form cookie of this browser.
    request = urllib.request.Request(
        BASE_URL + "/signin",
        data=f"form={token}&login=a%40example.com&password=x&country=IN".encode(),
        headers={"Origin": "https://attacker.example", "Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403
    # Without the token, from the page itself: refused as well.
    page.evaluate("document.querySelector('input[name=form]').value = ''")
    page.fill("#login", "a@example.com")
    page.fill("#password", "x")
    with page.expect_response("**/signin") as answer:
        submit(page, "/signin")
    assert answer.value.status == 403


@pytest.mark.parametrize("locale", ["en-US"])
@pytest.mark.parametrize("device", ["phone"])
def test_the_sign_up_page_comes_compressed_from_this_origin_only(new_context):
    """Everything the sign-up page loads, the CAPTCHA widget and its solver included, comes
    from this site and, when it is more than a packet, compressed: the page gzipped, the
    assets as brotli (Chromium asks for both)."""
    context = new_context()
    page = context.new_page()
    log = RequestLog(page)
    encodings = {}
    page.on("response", lambda r: encodings.__setitem__(r.url, r.headers.get("content-encoding")))
    page.goto("/signup", wait_until="networkidle")
    solve_captcha(page)
    page.wait_for_load_state("networkidle")
    log.settle()
    assert log.other_origins() == []
    loaded = {f.url: f for f in log.fetched if f.status == 200}
    # Chromium gives no transfer size for a worker's script: it is named, not measured.
    worker = [url for url in loaded if "/assets/altcha-argon2id." in url]
    assert len(worker) == 1, "the solver's worker was loaded"
    large = [url for url, f in loaded.items() if f.body_bytes > 1500 and "/v1/captcha" not in url] + worker
    assert len(large) == 4, large  # the page, the widget, its style, the worker
    expected = {url: "gzip" if url.endswith("/signup") else "br" for url in large}
    assert {url: encodings.get(url) for url in large} == expected
