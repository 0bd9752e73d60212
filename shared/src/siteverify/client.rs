//! The HTTP client that asks a CAPTCHA provider's siteverify endpoint.
//!
//! It is the AWS SDK's own connector (`aws-smithy-http-client`: hyper 1, rustls with aws-lc and
//! the Mozilla roots of `sdk::tls_context`), so the functions carry no second HTTP or TLS stack. Plain
//! `http://` works too, for a fake verifier in tests. Timeouts are the protocol's
//! (`protocol::verify_token` bounds the whole call), so none are set here.

use std::sync::OnceLock;

use async_trait::async_trait;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_http_client::Connector;
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::error::display::DisplayErrorContext;
use http_body_util::{BodyExt, Limited};

use domain::siteverify::{CaptchaVerifier, ProviderConfig, SiteverifyRefusal};

use super::protocol::{verify_token, HttpAnswer, SiteverifyTransport};

/// Longest answer read. A real one is a few hundred bytes; a proxy's error page may be longer,
/// and is unreadable either way.
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// Built on first use, so a function whose CAPTCHA is ALTCHA (or that never checks one) does
/// not pay for it, and then kept for the life of the function, with its connection pool.
#[derive(Default)]
pub struct HttpSiteverify {
    connector: OnceLock<Connector>,
}

#[async_trait]
impl SiteverifyTransport for HttpSiteverify {
    async fn post_form(&self, url: &str, form: String) -> Result<HttpAnswer, String> {
        let connector = self.connector.get_or_init(|| {
            Connector::builder()
                .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
                .tls_context(crate::sdk::tls_context())
                .build()
        });
        let mut request = HttpRequest::new(SdkBody::from(form));
        request.set_method("POST").map_err(|e| e.to_string())?;
        request.set_uri(url).map_err(|e| e.to_string())?;
        request.headers_mut().insert("content-type", "application/x-www-form-urlencoded");
        request.headers_mut().insert("accept", "application/json");

        let response = connector.call(request).await.map_err(|e| DisplayErrorContext(e).to_string())?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        Ok(HttpAnswer { status, body: body.to_vec() })
    }
}

#[async_trait]
impl CaptchaVerifier for HttpSiteverify {
    async fn verify(
        &self,
        config: &ProviderConfig,
        token: Option<&str>,
        client_ip: Option<&str>,
    ) -> Result<(), SiteverifyRefusal> {
        verify_token(self, config, token, client_ip).await
    }
}
