"""The apps of test_oidc.py, as their developers would write them with Authlib: each knows the
discovery URL, its client id and secret, and its redirect URIs, nothing else of the provider.

    server = AppServer()                 # the apps' web server: where the browser comes back to
    client_id, secret = register_client("Store", "first", server)
    store = RelyingParty(client_id, secret, server)
    page.goto(store.authorize_redirect()["url"])       # PKCE S256, state, nonce: Authlib's
    token = store.authorize_access_token(store.landed(page))  # code exchange, ID token verified

RelyingParty is what Authlib's Flask client is (OAuth2Mixin + OpenIDMixin on its requests
OAuth2Session) with a dict where Flask keeps the state data in its session: discovery, the
JWKS, the ID token's signature and claims (iss, aud, exp, iat, nonce, at_hash) are Authlib's.
"""
import http.server
import os
import shutil
import subprocess
import threading
import urllib.parse

from authlib.integrations.base_client import BaseApp, MismatchingStateError, OAuth2Mixin, OAuthError, OpenIDMixin
from authlib.integrations.requests_client import OAuth2Session
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from conftest import BASE_URL

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DISCOVERY_URL = BASE_URL + "/.well-known/openid-configuration"
# Where run.sh's stack keeps its data, and the service secret local-stack.sh made (register-client
# keys a client secret's hash with it, as the functions do).
TABLE = os.environ.get("BROWSER_TABLE_NAME", "accounts-local")
SERVICE_SECRET = os.environ.get("BROWSER_SERVICE_SECRET", "account-service-local")
SCOPES = "openid email phone"


class AppServer:
    """The apps' web server on a free loopback port: it answers any GET with a small page and
    notes the paths it was asked for (`hits`), so a test can tell that nothing came back."""

    def __init__(self):
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the stdlib's name)
                hits.append(self.path)
                body = b"<!doctype html><html lang=en><title>The app</title><h1>Back in the app</h1>"
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _register_client_command():
    """The operator command local-stack.sh builds; `cargo run` when it is not there."""
    built = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "debug", "register-client")
    if os.path.exists(built):
        return [built]
    return [shutil.which("cargo") or "cargo", "run", "-q", "--bin", "register-client", "--"]


def register_client(name, party, server, scopes=SCOPES):
    """Registers a confidential client (`party` "first" or "third") whose redirect URI is
    `server`'s /<id>/callback and post-logout URI its /<id>/signed-out, as an operator does;
    returns its id and secret (register-client's last line)."""
    client_id = f"{name.lower()}-{os.urandom(4).hex()}"
    command = _register_client_command() + [
        TABLE, "--service-secret", SERVICE_SECRET, "--id", client_id, "--name", name, "--party", party,
        "--confidential", "--redirect-uri", f"{server.origin}/{client_id}/callback",
        "--post-logout-uri", f"{server.origin}/{client_id}/signed-out", "--scopes", scopes,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise AssertionError(f"register-client failed ({done.returncode}): {done.stderr.strip()}")
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("client secret: "), done.stdout
    return client_id, last.removeprefix("client secret: ")


class RelyingParty(OAuth2Mixin, OpenIDMixin, BaseApp):
    """One app: Authlib's OpenID Connect client, configured with the discovery URL only."""

    client_cls = OAuth2Session

    def __init__(self, client_id, client_secret, server, scope=SCOPES):
        # framework: what a web framework's integration is to Authlib, told of refreshed tokens
        # (update_token below).
        super().__init__(
            framework=self, client_id=client_id, client_secret=client_secret, server_metadata_url=DISCOVERY_URL,
            client_kwargs={"scope": scope, "code_challenge_method": "S256"},
        )
        self.redirect_uri = f"{server.origin}/{client_id}/callback"
        self.signed_out_uri = f"{server.origin}/{client_id}/signed-out"
        self.states = {}  # what Authlib's web integrations keep in the app's session, by state
        self.responses = []  # every answer the provider gave this app, newest last

    def update_token(self, token, refresh_token=None, access_token=None):
        """Authlib's hook after a refresh: an app would store the new token here."""
        self.refreshed = token

    def _get_oauth_client(self, **metadata):
        session = super()._get_oauth_client(**metadata)
        session.hooks["response"].append(lambda response, *args, **kwargs: self.responses.append(response))
        return session

    def authorize_redirect(self, redirect_uri=None, **params):
        """The authorization request: `url` (to send the browser to), `state`, `nonce`,
        `code_verifier`, noted for the answer as Authlib's web clients note them."""
        data = self.create_authorization_url(redirect_uri or self.redirect_uri, **params)
        self.states[data["state"]] = {key: data[key] for key in ("code_verifier", "nonce")}
        self.states[data["state"]]["redirect_uri"] = redirect_uri or self.redirect_uri
        return data

    def landed(self, page):
        """The URL the browser came back to the app with."""
        try:
            page.wait_for_url(lambda url: url.startswith(self.redirect_uri))
        except PlaywrightTimeoutError:
            raise AssertionError(f"the browser did not come back to {self.redirect_uri}: it is at {page.url}") from None
        return page.url

    def authorize_access_token(self, callback_url, **overrides):
        """What an app does with the answer (Authlib's authorize_access_token): an error is an
        OAuthError; else the state's data, the code exchanged, the ID token verified against
        the JWKS with the request's nonce (`token["userinfo"]`, its claims). `overrides`
        replace what is sent (code_verifier=None sends none)."""
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback_url).query))
        if "error" in query:
            raise OAuthError(error=query["error"], description=query.get("error_description"))
        data = self.states.pop(query.get("state"), None)
        if data is None:
            raise MismatchingStateError()
        params = self._format_state_params(data, {"code": query["code"], "state": query["state"]})
        params.update(overrides)
        params = {key: value for key, value in params.items() if value is not None}
        token = self.fetch_access_token(**params)
        token["userinfo"] = self.parse_id_token(token, nonce=data["nonce"])
        return token

    def refresh(self, token):
        """The refresh grant, as Authlib's OAuth2Session sends it."""
        metadata = self.load_server_metadata()
        with self._get_oauth_client(**metadata) as session:
            return session.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
