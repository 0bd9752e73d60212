//! Compression for the browsers that take it. API Gateway's HTTP API does not compress, and
//! the CAPTCHA widget with its worker is 130 KB as text, 38 KB as brotli: without this a page
//! with a CAPTCHA is twice its 60 KB budget on a phone. Assets are compressed at build time
//! (build.rs); pages, which differ per request, are gzipped here.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use lambda_http::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, VARY};
use lambda_http::http::{HeaderMap, HeaderValue};
use lambda_http::{Body, Response};

/// Below this, gzip's own header and a round of base64 through Lambda gain nothing.
const SMALLEST: usize = 1024;

/// The content codings a request's `Accept-Encoding` takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    pub gzip: bool,
    pub brotli: bool,
}

impl Accepted {
    /// `Accept-Encoding`'s codings (or `*`), less those it refuses by `q=0`.
    pub fn of(headers: &HeaderMap) -> Self {
        let mut accepted = Accepted::default();
        let items = headers.get_all(ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(','));
        for item in items {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = parts
                .any(|p| p.trim().strip_prefix("q=").is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q == 0.0)));
            if !refused {
                accepted.gzip |= coding == "gzip" || coding == "*";
                accepted.brotli |= coding == "br" || coding == "*";
            }
        }
        accepted
    }
}

/// A text answer of some size, gzipped when the browser takes it; either way marked as
/// varying by `Accept-Encoding`, so no cache hands the gzipped one to a browser that cannot
/// read it. Answers that are already bytes (the assets) pass as they are.
pub fn encoded(mut response: Response<Body>, accepted: Accepted) -> Response<Body> {
    let compressed = match response.body() {
        Body::Text(text) if text.len() >= SMALLEST => accepted.gzip.then(|| gzip(text.as_bytes())),
        _ => return response,
    };
    response.headers_mut().insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Some(compressed) = compressed {
        *response.body_mut() = Body::Binary(compressed);
        mark(&mut response, "gzip");
    }
    response
}

/// Marks a body as compressed with `coding` (`gzip`, `br`).
pub fn mark(response: &mut Response<Body>, coding: &'static str) {
    response.headers_mut().insert(CONTENT_ENCODING, HeaderValue::from_static(coding));
    response.headers_mut().insert(VARY, HeaderValue::from_static("Accept-Encoding"));
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    // Level 6: a page is made per request; best would cost more time than the bytes it saves.
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 3), Compression::default());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    use flate2::read::GzDecoder;
    use std::io::Read;

    const GZIP: Accepted = Accepted { gzip: true, brotli: false };

    fn accepted(value: &str) -> (bool, bool) {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        let accepted = Accepted::of(&headers);
        (accepted.gzip, accepted.brotli)
    }

    #[test]
    fn a_coding_is_used_only_when_the_browser_takes_it() {
        assert_eq!(accepted("gzip, deflate, br, zstd"), (true, true));
        assert_eq!(accepted("br;q=1.0, GZIP;q=0.5"), (true, true));
        assert_eq!(accepted("*"), (true, true));
        assert_eq!(accepted("gzip;q=0, br"), (false, true));
        assert_eq!(accepted("gzip;q=0.0"), (false, false));
        assert_eq!(accepted("deflate"), (false, false));
        assert_eq!(accepted("identity"), (false, false));
        assert_eq!(Accepted::of(&HeaderMap::new()), Accepted::default());
    }

    #[test]
    fn a_page_is_gzipped_for_a_browser_that_takes_it_and_reads_back_the_same() {
        let page = "<p>Create account</p>".repeat(200);
        let response = encoded(Response::new(Body::Text(page.clone())), GZIP);
        assert_eq!(response.headers()[CONTENT_ENCODING], "gzip");
        assert_eq!(response.headers()[VARY], "Accept-Encoding");
        let Body::Binary(bytes) = response.body() else { panic!("a gzipped page is bytes") };
        assert!(bytes.len() < page.len() / 10);
        let mut read = String::new();
        GzDecoder::new(&bytes[..]).read_to_string(&mut read).unwrap();
        assert_eq!(read, page);
    }

    #[test]
    fn a_browser_without_gzip_or_a_small_answer_gets_plain_text() {
        let page = "<p>Create account</p>".repeat(200);
        let plain = encoded(Response::new(Body::Text(page.clone())), Accepted::default());
        assert!(plain.headers().get(CONTENT_ENCODING).is_none());
        assert_eq!(plain.headers()[VARY], "Accept-Encoding");
        assert!(matches!(plain.body(), Body::Text(text) if *text == page));
        let small = encoded(Response::new(Body::Text("ok".into())), GZIP);
        assert!(small.headers().get(CONTENT_ENCODING).is_none());
    }
}
