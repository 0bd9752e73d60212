//! A CAPTCHA provider's siteverify, faked on 127.0.0.1 so that tests exercise the real HTTP
//! client: what it answers depends on the token, and it keeps every form it was sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::Stack;

pub const SITE_KEY: &str = "site-key-0x4AAAA";
pub const SECRET: &str = "provider-secret-0x4AAAA&=";
/// Generous, so a loaded test machine never turns a good token into a 503.
pub const TIMEOUT_MS: &str = "1000";

/// What the fake answers, chosen by the token the client sends: `good-*` passes (hostname
/// accounts.example.com), `human`/`bot` pass with a score of 0.9/0.1, `elsewhere` passes on
/// another hostname, `duplicate` is a replay, `server-error` is a 500, `garbage` is not JSON,
/// `provider-trouble` is the provider's `internal-error`, `slow` answers after 5 seconds, and
/// anything else is `invalid-input-response`.
fn answer_for(token: &str) -> (u16, String) {
    let success = |extra: &str| (200, format!(r#"{{"success":true,"hostname":"accounts.example.com"{extra}}}"#));
    let refused = |code: &str| (200, format!(r#"{{"success":false,"error-codes":["{code}"]}}"#));
    match token {
        t if t.starts_with("good-") => success(""),
        "human" => success(r#","score":0.9,"action":"sign_up""#),
        "bot" => success(r#","score":0.1,"action":"sign_up""#),
        "elsewhere" => (200, r#"{"success":true,"hostname":"evil.example"}"#.to_owned()),
        "duplicate" => refused("timeout-or-duplicate"),
        "server-error" => (500, r#"{"success":true}"#.to_owned()),
        "garbage" => (200, "<html>502 Bad Gateway</html>".to_owned()),
        "provider-trouble" => refused("internal-error"),
        _ => refused("invalid-input-response"),
    }
}

/// A siteverify on 127.0.0.1 that keeps every form it was sent. It refuses any secret but
/// `SECRET` as the real ones do (`invalid-input-secret`), and sleeps past the timeout for "slow".
pub struct FakeVerifier {
    pub url: String,
    received: Arc<Mutex<Vec<HashMap<String, String>>>>,
}

impl FakeVerifier {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/siteverify", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, log.clone()));
            }
        });
        FakeVerifier { url, received }
    }

    pub fn forms(&self) -> Vec<HashMap<String, String>> {
        self.received.lock().unwrap().clone()
    }

    /// A stack whose CAPTCHA is `provider`, checked by this fake.
    pub async fn stack(&self, provider: &str, extra: &[(&str, &str)]) -> Stack {
        let mut settings = vec![
            ("CAPTCHA_PROVIDER", provider),
            ("CAPTCHA_SITE_KEY", SITE_KEY),
            ("CAPTCHA_SECRET_KEY", SECRET),
            ("CAPTCHA_VERIFY_URL", &self.url),
            ("CAPTCHA_VERIFY_TIMEOUT_MS", TIMEOUT_MS),
        ];
        settings.extend_from_slice(extra);
        Stack::with_settings(&settings).await
    }
}

/// One HTTP/1.1 exchange: the head, a `Content-Length` body, one answer, then close.
async fn serve(mut stream: TcpStream, log: Arc<Mutex<Vec<HashMap<String, String>>>>) {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_lowercase();
    assert!(head.starts_with("post /siteverify "), "{head}");
    assert!(head.contains("content-type: application/x-www-form-urlencoded"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("a Content-Length");
    while bytes.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
        }
    }
    let form: HashMap<String, String> =
        form_urlencoded::parse(&bytes[head_end..head_end + length]).into_owned().collect();
    log.lock().unwrap().push(form.clone());

    let token = form.get("response").map(String::as_str).unwrap_or_default();
    let (status, body) = if form.get("secret").map(String::as_str) != Some(SECRET) {
        (200, r#"{"success":false,"error-codes":["invalid-input-secret"]}"#.to_owned())
    } else if token == "slow" {
        tokio::time::sleep(Duration::from_secs(5)).await;
        answer_for("good-but-late")
    } else {
        answer_for(token)
    };
    let reply = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}
