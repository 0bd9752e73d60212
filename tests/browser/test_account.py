"""The security page's changes and "Forgot password?", as a person does them in the hosted
pages: a recovery phone added with the SMS code, the authenticator app turned on from its QR
code and key, recovery codes saved, a new browser asked for the second factor and remembered,
the password changed, another device signed out, the account deleted; and a reset that asks
for the second factor. Each journey runs in two languages; every page passes axe."""
import secrets
import time

import pytest

from conftest import (
    PASSWORD, assert_accessible, code_sent_to, fresh_email, fresh_totp, sent_mark, sign_up_by_email, solve_captcha,
    submit, turn_on_authenticator,
)

NEW_PASSWORD = "Correct-Horse-7-Battery"
# A contact is sent at most one code a minute, whatever the code is for (RESEND_COOLDOWN_SECONDS).
RESEND_COOLDOWN = 60


def new_indian_mobile():
    return "9" + "".join(secrets.choice("0123456789") for _ in range(9))


def sign_in(page, login, password):
    page.goto("/signin")
    page.fill("#login", login)
    page.fill("#password", password)
    submit(page, "/signin")


@pytest.mark.parametrize("device", ["desktop"])
@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_the_security_page_journey(new_context, locale):
    page = new_context().new_page()
    email = sign_up_by_email(page)

    # A recovery phone: the code goes to it, the password proves it is the owner.
    page.locator("a[href='/account/recovery?type=phone']").click()
    national = new_indian_mobile()
    page.select_option("#country", "IN")
    page.fill("#phone", national)
    assert_accessible(page)
    mark = sent_mark()
    solve_captcha(page)
    submit(page)
    page.wait_for_url("**/account/recovery/code?**")
    page.fill("#code", code_sent_to("+91" + national, after=mark))
    page.fill("#password", "not the password")
    submit(page)
    assert page.locator("#notice").is_visible(), "a wrong password is refused on the page"
    assert page.locator("#code").count() == 0, "the code, already confirmed, is not asked for again"
    page.fill("#password", PASSWORD)
    submit(page)
    page.wait_for_url("**/account/security?done=recovery_contact_added")
    assert page.locator("#done").is_visible()
    assert national[-4:] in page.locator("#h-recovery + ul").inner_text()

    key, codes, used = turn_on_authenticator(page)
    assert_accessible(page)
    method = {"en-US": "authenticator app", "zh-CN": "身份验证器"}[locale]
    assert method in page.locator("#two-factor").inner_text()

    # A new browser needs the second factor; a recovery code works once, and "remember this
    # device" spares the next sign-in the second factor.
    other = new_context().new_page()
    sign_in(other, email, PASSWORD)
    other.wait_for_url("**/signin/code?**")
    assert_accessible(other)
    other.check("#m-recovery")
    other.fill("#code", codes[0])
    other.check("#remember")
    submit(other)
    other.wait_for_url("**/account/security")
    submit(other, "/signout")
    other.wait_for_url("**/signin")
    sign_in(other, email, PASSWORD)
    other.wait_for_url("**/account/security")

    # The first browser lists the other one and signs it out.
    page.reload()
    rows = page.locator(".sessions li:not([aria-current])")
    assert rows.count() >= 1
    ends = page.locator("form[action='/account/sessions/end'] button")
    while ends.count():
        with page.expect_navigation():
            ends.first.click()
    other.goto("/account/security")
    assert other.url.endswith("/signin"), "the device signed out elsewhere is signed out"

    # A new password, given the current one; this browser stays signed in.
    page.locator("a[href='/account/password']").click()
    assert_accessible(page)
    page.fill("#current", PASSWORD)
    page.fill("#password", NEW_PASSWORD)
    page.fill("#password_confirm", NEW_PASSWORD)
    submit(page, "/account/password")
    page.wait_for_url("**/account/security?done=password_changed")

    # New recovery codes, proven by the authenticator; then the account is deleted, which
    # takes the password and a second factor.
    page.locator("a[href='/account/confirm?action=recovery_codes']").click()
    page.fill("#code", fresh_totp(key, used))
    submit(page, "/account/confirm?action=recovery_codes")
    new_codes = page.locator("#codes code").all_inner_texts()
    assert len(new_codes) == 10 and not set(new_codes) & set(codes)
    page.goto("/account/confirm?action=delete")
    assert page.locator("#warning").is_visible()
    assert_accessible(page)
    page.fill("#password", NEW_PASSWORD)
    page.fill("#code", codes[1])
    submit(page, "/account/confirm?action=delete")
    assert page.locator("#notice").is_visible(), "an old recovery code no longer works"
    page.fill("#password", NEW_PASSWORD)
    page.fill("#code", new_codes[0])
    submit(page, "/account/confirm?action=delete")
    page.wait_for_load_state()
    assert_accessible(page)
    page.goto("/account/security")
    assert page.url.endswith("/signin"), "deleted, and signed out"
    sign_in(page, email, NEW_PASSWORD)
    assert page.locator("#notice").is_visible(), "the account is gone"


@pytest.mark.parametrize("device", ["phone"])
@pytest.mark.parametrize("locale", ["en-US", "hi-IN"])
def test_forgot_password_asks_for_the_second_factor(new_context, locale):
    page = new_context().new_page()
    email = sign_up_by_email(page)
    signed_up = time.monotonic()  # the sign-up code was sent before this: its cooldown ends sooner
    _, codes, _ = turn_on_authenticator(page)
    submit(page, "/signout")
    page.wait_for_url("**/signin")
    # The sign-up code went to this email moments ago: the reset's may follow a minute later.
    time.sleep(max(0.0, signed_up + RESEND_COOLDOWN + 1 - time.monotonic()))

    page.locator("a[href='/reset']").click()
    assert_accessible(page)
    page.fill("#login", email)
    mark = sent_mark()
    solve_captcha(page)
    submit(page, "/reset")
    page.wait_for_url("**/reset/code?**")
    page.fill("#code", code_sent_to(email, after=mark))
    page.fill("#password", NEW_PASSWORD)
    page.fill("#password_confirm", NEW_PASSWORD)
    submit(page)
    page.wait_for_url("**/reset/verify?**")
    assert page.locator("#remember").count() == 0, "a reset remembers no device"
    assert_accessible(page)
    page.check("#m-recovery")
    page.fill("#code", codes[0])
    submit(page)
    page.wait_for_url("**/signin?done=password_reset")
    assert page.locator("#done").is_visible()

    sign_in(page, email, PASSWORD)
    assert page.locator("#notice").is_visible(), "the old password is gone"
    sign_in(page, email, NEW_PASSWORD)
    page.wait_for_url("**/signin/code?**")


@pytest.mark.parametrize("device", ["desktop"])
@pytest.mark.parametrize("locale", ["en-US"])
def test_a_reset_for_an_unknown_email_looks_the_same(page):
    page.goto("/reset")
    page.fill("#login", fresh_email())
    solve_captcha(page)
    submit(page, "/reset")
    page.wait_for_url("**/reset/code?**")
    assert page.locator("#code").is_visible(), "the same next step, whether or not an account exists"
