//! The answers of the pages: HTML with the security headers every page carries, redirects
//! after a form (so a reload never posts twice), and the pages' cookies.

use lambda_http::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, REFERRER_POLICY, SET_COOKIE,
    STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};

use crate::assets::{Asset, Kind};
use crate::compress::{self, Accepted};

/// No inline script or style, nothing from another origin, no framing, forms only to this site.
/// The CAPTCHA widget's solver runs in a worker it starts from a `blob:` URL.
pub const CONTENT_SECURITY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; worker-src 'self' blob:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn secured(
    status: StatusCode,
    content_type: &'static str,
    cache: &'static str,
) -> lambda_http::http::response::Builder {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, content_type)
        .header(CACHE_CONTROL, cache)
        .header(CONTENT_SECURITY_POLICY, CONTENT_SECURITY)
        .header(STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains")
        .header(REFERRER_POLICY, "no-referrer")
        .header(X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(X_FRAME_OPTIONS, "DENY")
}

/// A page; `no-store`, since pages show personal details and carry form tokens.
pub fn html(status: StatusCode, body: String) -> Response<Body> {
    secured(status, "text/html; charset=utf-8", "no-store").body(Body::Text(body)).expect("static headers")
}

/// The policy of the CAPTCHA widget's Argon2id worker, which runs under its own response's policy:
/// nothing but compiling its own WebAssembly (not even `eval`, which 'wasm-unsafe-eval' leaves out).
const WASM_WORKER_SECURITY: &str = "default-src 'none'; script-src 'wasm-unsafe-eval'";

/// A fingerprinted asset: its name changes with its content, so it is cached for a year.
pub fn asset(asset: &'static Asset, accepted: Accepted) -> Response<Body> {
    let (content_type, policy) = match asset.kind {
        Kind::Style => ("text/css; charset=utf-8", CONTENT_SECURITY),
        Kind::Script => ("text/javascript; charset=utf-8", CONTENT_SECURITY),
        Kind::WasmWorker => ("text/javascript; charset=utf-8", WASM_WORKER_SECURITY),
    };
    let builder = secured(StatusCode::OK, content_type, "public, max-age=31536000, immutable");
    let (body, coding) = if accepted.brotli {
        (Body::Binary(asset.body.brotli.to_vec()), Some("br"))
    } else if accepted.gzip {
        (Body::Binary(asset.body.gzip.to_vec()), Some("gzip"))
    } else {
        (Body::Text(asset.body.text.to_owned()), None)
    };
    let mut response = builder.body(body).expect("static headers");
    if let Some(coding) = coding {
        compress::mark(&mut response, coding);
    }
    response.headers_mut().insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    response
}

/// `303 See Other` to a path of this site.
pub fn redirect(path: &str) -> Response<Body> {
    secured(StatusCode::SEE_OTHER, "text/plain; charset=utf-8", "no-store")
        .header(LOCATION, path)
        .body(Body::Empty)
        .expect("a path is a valid header")
}

/// `response` with its policy's `form-action` also allowing `source` (an app's redirect URI's
/// origin or private scheme): browsers hold a form's redirects to it, and this page's forms
/// answer with a redirect to the app.
pub fn with_form_target(mut response: Response<Body>, source: &str) -> Response<Body> {
    let policy = CONTENT_SECURITY.replace("form-action 'self'", &format!("form-action 'self' {source}"));
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.headers_mut().insert(CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// A `__Host-` cookie: HTTPS only, this host only, whole site, no script access; sent on
/// top-level navigations from other sites (`Lax`), so a link to the site keeps one signed in,
/// but never on their forms' posts. `max_age` `None` ends with the browser session; `Some(0)` deletes.
pub fn with_cookie(mut response: Response<Body>, name: &str, value: &str, max_age: Option<u64>) -> Response<Body> {
    let age = max_age.map(|seconds| format!("; Max-Age={seconds}")).unwrap_or_default();
    let cookie = format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax{age}");
    let value = HeaderValue::from_str(&cookie).expect("cookie values are token characters");
    response.headers_mut().append(SET_COOKIE, value);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_wasm_worker_may_compile_webassembly() {
        use crate::assets::{find, path, Name};
        let policy = |name, accepted| {
            let found = find(path(name)).unwrap();
            asset(found, accepted).headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned()
        };
        for brotli in [false, true] {
            let accepted = Accepted { gzip: true, brotli };
            assert_eq!(policy(Name::Argon2idWorker, accepted), WASM_WORKER_SECURITY);
            assert_eq!(policy(Name::Site, accepted), CONTENT_SECURITY);
            assert_eq!(policy(Name::Widget, accepted), CONTENT_SECURITY);
        }
        assert!(!CONTENT_SECURITY.contains("wasm"), "the pages themselves compile none");
    }
}
