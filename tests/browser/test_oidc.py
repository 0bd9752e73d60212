"""Sign in with Mi Account, as apps see it: relying parties built on Authlib (oidc_rp.py), which
know only the discovery URL, sign a person in through the hosted pages in Chromium (the second
factor included), verify the ID token against the JWKS themselves, refresh with rotation, and
log out. Then what such an app must be able to rely on, each a test: single sign-on, consent
and a pairwise `sub` for a third-party app, prompt=none, an exact redirect URI, forged ID tokens,
PKCE, a code used twice, client authentication, and an integrator's own login page completing
the challenge through the JSON API. The journey runs in two languages; the consent page passes axe."""
import base64
import json
import urllib.parse

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from joserfc import jwt
from joserfc.errors import BadSignatureError, UnsupportedAlgorithmError
from joserfc.jwk import ECKey

from conftest import (
    BASE_URL, PASSWORD, assert_accessible, context_options, fresh_totp, sign_up_by_email, submit, turn_on_authenticator,
)
from oidc_rp import AppServer, RelyingParty, register_client

# The apps: two of the service's own (first-party: no consent, the public `sub`) and a
# third-party one (a consent page, a pairwise `sub`).
APPS = {"Store": "first", "Cloud": "first", "Forum": "third"}


@pytest.fixture(scope="module")
def server():
    server = AppServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def registered(server):
    """Each app's client id and secret, registered once for the module."""
    return {name: register_client(name, party, server) for name, party in APPS.items()}


@pytest.fixture
def app(registered, server):
    """app("Store"): a fresh instance of that app (its own noted states)."""
    return lambda name: RelyingParty(*registered[name], server)


@pytest.fixture(scope="module")
def signed_in(browser):
    """A page of a browser signed in to a new account (desktop, English), for the tests that
    need an app's tokens but not the pages themselves: each authorization passes straight on."""
    ctx = browser.new_context(**context_options(browser, "desktop", "en-US"))
    ctx.set_default_timeout(15_000)
    ctx.set_default_navigation_timeout(60_000)
    page = ctx.new_page()
    sign_up_by_email(page)
    yield page
    ctx.close()


def query(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def code_for(page, rp, **params):
    """An authorization for `rp` in a signed-in browser: the URL it came back to."""
    page.goto(rp.authorize_redirect(**params)["url"])
    return rp.landed(page)


def tokens_for(page, rp):
    return rp.authorize_access_token(code_for(page, rp))


def refused(call):
    """The OAuthError an app gets from `call` (Authlib raises it for the provider's error answer)."""
    with pytest.raises(OAuthError) as raised:
        call()
    return raised.value


def sign_in_with_password(page, email):
    page.wait_for_url("**/signin?login_challenge=**")
    page.fill("#login", email)
    page.fill("#password", PASSWORD)
    submit(page)


@pytest.mark.parametrize("device", ["desktop"])
@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_an_app_signs_a_person_in_with_the_second_factor_and_keeps_them_signed_in(new_context, app, locale):
    setup = new_context().new_page()
    email = sign_up_by_email(setup)
    key, _, used = turn_on_authenticator(setup)

    # A new browser, in the store app: the hosted sign-in page, for the app, then the second factor.
    store = app("Store")
    page = new_context().new_page()
    authorization = store.authorize_redirect()
    page.goto(authorization["url"])
    page.wait_for_url("**/signin?login_challenge=**")
    assert page.locator("html").get_attribute("lang").split("-")[0] == locale.split("-")[0]
    assert "Store" in page.locator("#continue-to").inner_text()
    sign_in_with_password(page, email)
    page.wait_for_url("**/signin/code?**login_challenge=**")
    page.fill("#code", fresh_totp(key, used))
    submit(page)
    callback = store.landed(page)
    metadata = store.load_server_metadata()
    assert query(callback)["iss"] == metadata["issuer"], "RFC 9207: the answer names its issuer"

    # The code exchanged, the ID token verified by Authlib (signature against the JWKS; iss,
    # aud, exp, iat, nonce): what the app now knows of the person.
    token = store.authorize_access_token(callback)
    claims = token["userinfo"]
    assert claims["aud"] == store.client_id and claims["nonce"] == authorization["nonce"]
    assert {"pwd", "otp", "mfa"} <= set(claims["amr"])
    assert claims["email"] == email and claims["email_verified"] is True
    userinfo = store.userinfo(token=token)
    assert userinfo["sub"] == claims["sub"] and userinfo["email"] == email

    # Refreshed: a new refresh token in place of the old one, a new ID token of the same sign-in.
    refreshed = store.refresh(token)
    assert refreshed["refresh_token"] != token["refresh_token"]
    again = store.parse_id_token(refreshed, nonce=None)
    assert (again["sub"], again["auth_time"]) == (claims["sub"], claims["auth_time"])
    assert store.userinfo(token=refreshed)["sub"] == claims["sub"]

    # The old refresh token presented again (stolen, say): refused, and the whole family with it.
    replay = refused(lambda: store.refresh(token))
    assert replay.error == "invalid_grant"
    assert refused(lambda: store.refresh(refreshed)).error == "invalid_grant", "the family is revoked"

    # RP-initiated logout: back at the app's registered address, and signed out of the pages.
    logout = store.create_logout_url(post_logout_redirect_uri=store.signed_out_uri, id_token_hint=refreshed["id_token"])
    page.goto(logout["url"])
    page.wait_for_url(lambda url: url.startswith(store.signed_out_uri))
    assert query(page.url)["state"] == logout["state"]
    page.goto("/account/security")
    assert page.url.endswith("/signin"), "the browser's session ended"


@pytest.mark.parametrize("device", ["desktop"])
@pytest.mark.parametrize("locale", ["en-US"])
def test_a_second_app_signs_in_without_asking_again(new_context, app):
    email = sign_up_by_email(new_context().new_page())
    page = new_context().new_page()
    store, cloud = app("Store"), app("Cloud")
    page.goto(store.authorize_redirect(login_hint=email)["url"])
    page.wait_for_url("**/signin?login_challenge=**")
    assert page.input_value("#login") == email, "the app's login_hint fills the form"
    sign_in_with_password(page, email)
    first = store.authorize_access_token(store.landed(page))

    asked = []
    page.on("request", lambda request: asked.append(request.url))
    second = cloud.authorize_access_token(code_for(page, cloud))
    assert not [url for url in asked if "/signin" in url], f"no sign-in page on the way: {asked}"
    assert second["userinfo"]["sub"] == first["userinfo"]["sub"], "first-party apps share the public sub"
    assert second["userinfo"]["aud"] == cloud.client_id


@pytest.mark.parametrize("device", ["desktop"])
@pytest.mark.parametrize("locale", ["en-US", "hi-IN"])
def test_a_third_party_app_asks_for_consent_and_gets_a_pairwise_sub(new_context, app):
    page = new_context().new_page()
    email = sign_up_by_email(page)
    store, forum = app("Store"), app("Forum")
    public = tokens_for(page, store)["userinfo"]["sub"]

    page.goto(forum.authorize_redirect(scope="openid email")["url"])
    page.wait_for_url("**/oauth2/consent?consent_challenge=**")
    assert "Forum" in page.locator("#asks").inner_text()
    assert page.locator("#scopes li").count() == 2, "openid and email, as asked"
    assert_accessible(page)
    with page.expect_navigation():
        page.locator("button[value=allow]").click()
    token = forum.authorize_access_token(forum.landed(page))
    sub = token["userinfo"]["sub"]
    assert sub != public, "a third-party app never sees the sub the service's own apps see"
    assert forum.userinfo(token=token)["sub"] == sub and token["userinfo"]["email"] == email
    assert "phone_number" not in forum.userinfo(token=token), "only the scopes approved"

    # Approved once: the next authorization for those scopes passes straight on, same pairwise sub.
    assert forum.authorize_access_token(code_for(page, forum, scope="openid email"))["userinfo"]["sub"] == sub

    # "Remove access" on the security page: its tokens stop working, and it must ask again.
    page.goto("/account/security")
    assert "Forum" in page.locator("#h-apps + ul").inner_text()
    with page.expect_navigation():
        page.locator("form[action='/account/apps/remove'] button").click()
    assert refused(lambda: forum.refresh(token)).error == "invalid_grant"
    page.goto(forum.authorize_redirect()["url"])
    page.wait_for_url("**/oauth2/consent?consent_challenge=**")


@pytest.mark.parametrize("device", ["desktop"])
@pytest.mark.parametrize("locale", ["en-US"])
def test_an_integrators_own_login_page_completes_the_challenge_through_the_json_api(new_context, app):
    """The login page of an integrator's own frontend: it reads the challenge that authorize
    sent the browser with, signs the person in through the JSON API, and completes the login and
    then the consent of a third-party app by the documented interaction endpoints; the browser
    goes where they answer. Here that frontend is plain HTTP, as its server would make it."""
    email = sign_up_by_email(new_context().new_page())
    forum = app("Forum")
    start = requests.get(forum.authorize_redirect()["url"], allow_redirects=False, timeout=60)
    assert start.is_redirect, (start.status_code, start.text)
    challenge = query(start.headers["location"])["login_challenge"]
    interactions = f"{BASE_URL}/v1/oauth2/interactions"
    view = requests.get(f"{interactions}/{challenge}", timeout=60).json()
    assert (view["client_name"], view["stage"], view["third_party"]) == ("Forum", "login", True)

    signed_in = requests.post(f"{BASE_URL}/v1/sessions", json={"login": email, "password": PASSWORD}, timeout=60)
    assert signed_in.status_code == 201, signed_in.text
    bearer = {"authorization": f"Bearer {signed_in.json()['session_token']}"}
    login = requests.post(f"{interactions}/{challenge}/login", json={}, headers=bearer, timeout=60)
    assert login.status_code == 200, login.text
    consent = query(login.json()["redirect_to"])["consent_challenge"]
    assert requests.get(f"{interactions}/{consent}", timeout=60).json()["stage"] == "consent"
    allowed = requests.post(f"{interactions}/{consent}/consent", json={}, headers=bearer, timeout=60)
    assert allowed.status_code == 200, allowed.text
    again = requests.post(f"{interactions}/{consent}/consent", json={}, headers=bearer, timeout=60)
    assert again.json()["error"]["code"] == "challenge_expired", "a challenge completes once"

    token = forum.authorize_access_token(allowed.json()["redirect_to"])
    assert token["userinfo"]["email"] == email
    assert forum.userinfo(token=token)["sub"] == token["userinfo"]["sub"]


@pytest.mark.parametrize("device", ["desktop"])
@pytest.mark.parametrize("locale", ["en-US"])
def test_the_sign_in_page_speaks_the_first_of_the_apps_ui_locales_it_knows(page, app):
    page.goto(app("Store").authorize_redirect(ui_locales="fr-FR hi-IN zh-CN")["url"])
    page.wait_for_url("**/signin?login_challenge=**")
    assert page.locator("html").get_attribute("lang").split("-")[0] == "hi", "French is not one of the pages'"


@pytest.mark.parametrize("device", ["desktop"])
@pytest.mark.parametrize("locale", ["en-US"])
def test_prompt_none_without_a_session_is_login_required(page, app):
    store = app("Store")
    authorization = store.authorize_redirect(prompt="none")
    page.goto(authorization["url"])
    callback = store.landed(page)
    assert query(callback)["state"] == authorization["state"]
    assert refused(lambda: store.authorize_access_token(callback)).error == "login_required"


@pytest.mark.parametrize("device", ["desktop"])
@pytest.mark.parametrize("locale", ["en-US"])
@pytest.mark.parametrize("where", ["unregistered", "modified"])
def test_a_redirect_uri_not_registered_exactly_gets_an_error_page(page, app, server, where):
    store = app("Store")
    redirect_uri = {
        "unregistered": "https://elsewhere.example/callback",
        "modified": store.redirect_uri + "/../elsewhere",
    }[where]
    before = list(server.hits)
    response = page.goto(store.authorize_redirect(redirect_uri=redirect_uri)["url"])
    assert response.status == 400
    assert urllib.parse.urlsplit(page.url).path == "/oauth2/authorize", "no redirect"
    assert "redirect_uri" in page.locator("#main").inner_text(), "the reason, for the app's developer"
    assert server.hits == before, "nothing went to the app"
    assert_accessible(page)


def _b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def forged(id_token, how):
    """The real token's claims, unsigned (`alg: none`) or signed by a key that is not the
    provider's (with the provider's `kid`, so only the signature tells them apart)."""
    header_part, payload_part, _ = id_token.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_part + "=" * (-len(header_part) % 4)))
    claims = json.loads(base64.urlsafe_b64decode(payload_part + "=" * (-len(payload_part) % 4)))
    if how == "alg_none":
        return f"{_b64({**header, 'alg': 'none'})}.{_b64(claims)}."
    foreign = ECKey.generate_key("P-256", parameters={"kid": header["kid"]})
    return jwt.encode({"alg": "ES256", "kid": header["kid"], "typ": header.get("typ", "JWT")}, claims, foreign)


@pytest.mark.parametrize("how, error", [("alg_none", UnsupportedAlgorithmError), ("foreign_key", BadSignatureError)])
def test_a_forged_id_token_is_refused_by_the_app(signed_in, app, how, error):
    store = app("Store")
    authorization = store.authorize_redirect()
    signed_in.goto(authorization["url"])
    token = store.authorize_access_token(store.landed(signed_in))
    nonce = authorization["nonce"]
    assert store.parse_id_token(token, nonce)["sub"] == token["userinfo"]["sub"], "the real one passes"
    with pytest.raises(error):
        store.parse_id_token({**token, "id_token": forged(token["id_token"], how)}, nonce)


@pytest.mark.parametrize("verifier", ["missing", "wrong"])
def test_a_code_without_its_pkce_verifier_is_refused(signed_in, app, verifier):
    store = app("Store")
    callback = code_for(signed_in, store)
    sent = {"missing": None, "wrong": "x" * 43}[verifier]
    error = refused(lambda: store.authorize_access_token(callback, code_verifier=sent))
    assert error.error == "invalid_grant"
    assert store.responses[-1].status_code == 400


def test_a_code_used_twice_is_refused_and_revokes_what_it_gave(signed_in, app):
    store = app("Store")
    callback = code_for(signed_in, store)
    noted = dict(store.states)
    first = store.authorize_access_token(callback)
    store.states.update(noted)  # the same answer handled again (replayed, say)
    assert refused(lambda: store.authorize_access_token(callback)).error == "invalid_grant"
    assert refused(lambda: store.refresh(first)).error == "invalid_grant", "the first exchange's tokens are revoked"


def test_a_wrong_client_secret_is_refused(signed_in, app, server):
    store = app("Store")
    callback = code_for(signed_in, store)
    impostor = RelyingParty(store.client_id, "not-the-secret", server)
    impostor.states = dict(store.states)  # it saw the browser's answer, code and all
    error = refused(lambda: impostor.authorize_access_token(callback))
    assert error.error == "invalid_client"
    answer = impostor.responses[-1]
    assert answer.status_code == 401
    assert answer.headers.get("www-authenticate", "").lower().startswith("basic"), "RFC 6749 5.2"
    assert store.authorize_access_token(callback)["userinfo"]["aud"] == store.client_id, "the code is still the app's"
