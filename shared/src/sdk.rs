//! The AWS SDK's configuration and the one HTTPS client of every function: built from what
//! Lambda puts in the environment, trusting roots compiled into the binary.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider, SharedHttpClient};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_types::SdkConfig;

use domain::config::ConfigError;

/// `lambda_sdk_config` of this process's environment; also what the rotation tool uses.
pub fn environment_sdk_config() -> Result<SdkConfig, ConfigError> {
    lambda_sdk_config(|name| std::env::var(name).ok())
}

/// The SDK configuration straight from what Lambda puts in every function's environment
/// (`AWS_REGION` and the execution role's `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`), plus `AWS_ENDPOINT_URL` (moto, locally). Not aws-config's provider
/// chains: on Lambda they end at these same variables, and building them (profile files,
/// IMDS, ECS, web identity, STS, SSO) is start-up time and binary size for nothing.
/// Each kind of client sets its own timeouts and retries on top (`waits`).
fn lambda_sdk_config(lookup: impl Fn(&str) -> Option<String>) -> Result<SdkConfig, ConfigError> {
    let var = |name: &str| lookup(name).filter(|v| !v.is_empty());
    let required = |name: &str| {
        var(name).ok_or_else(|| ConfigError::new(format!("{name} is required (Lambda sets it for every function)")))
    };
    let credentials = Credentials::new(
        required("AWS_ACCESS_KEY_ID")?,
        required("AWS_SECRET_ACCESS_KEY")?,
        var("AWS_SESSION_TOKEN"),
        None,
        "lambda-environment",
    );
    let mut sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(required("AWS_REGION")?))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(https_client());
    if let Some(url) = var("AWS_ENDPOINT_URL") {
        sdk = sdk.endpoint_url(url);
    }
    Ok(sdk.build())
}

/// rustls (aws-lc) trusting the Mozilla root certificates built into the binary
/// (`webpki-root-certs`), not the system's trust store: the SDK's default client reads and
/// parses every certificate file it finds (/etc/ssl/certs, or provided.al2023's bundle) on each
/// cold start. Certificates are verified as before; the roots change with the crate's updates.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(tls_context())
        .build_https()
}

/// The trust of every HTTPS connection the functions make: the SDK's and siteverify's.
pub(crate) fn tls_context() -> TlsContext {
    let trust = TrustStore::empty().with_native_roots(false).with_pem_certificate(root_certificates_pem());
    TlsContext::builder().with_trust_store(trust).build().expect("a TLS context of valid roots")
}

/// `webpki_root_certs`' DER certificates as the PEM `TrustStore` takes.
fn root_certificates_pem() -> Vec<u8> {
    use base64::Engine;
    let mut pem = String::with_capacity(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() * 2048);
    for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        pem.push_str(&base64::engine::general_purpose::STANDARD.encode(der.as_ref()));
        pem.push_str("\n-----END CERTIFICATE-----\n");
    }
    pem.into_bytes()
}

#[cfg(test)]
mod tests {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    const LAMBDA: [(&str, &str); 4] = [
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", "token"),
    ];

    #[test]
    fn the_sdk_configuration_comes_from_the_lambda_environment() {
        let sdk = lambda_sdk_config(lookup(&LAMBDA)).unwrap();
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert!(sdk.credentials_provider().is_some());
        assert!(sdk.http_client().is_some());
        assert_eq!(sdk.endpoint_url(), None);

        let local = [LAMBDA.as_slice(), &[("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")]].concat();
        let sdk = lambda_sdk_config(lookup(&local)).unwrap();
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:4566"));
    }

    #[test]
    fn a_missing_region_or_key_is_a_configuration_error() {
        for missing in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let vars: Vec<_> = LAMBDA.iter().copied().filter(|(k, _)| *k != missing).collect();
            let err = lambda_sdk_config(lookup(&vars)).expect_err(missing).to_string();
            assert!(err.contains(missing), "{err}");
        }
    }

    /// The PEM the trust store parses is every Mozilla root, byte for byte, and AWS endpoints'
    /// roots (Amazon Trust Services, and Starfield's cross-signing root) are among them.
    #[test]
    fn the_trust_store_is_the_mozilla_roots() {
        let parsed: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(&root_certificates_pem()).collect::<Result<_, _>>().unwrap();
        assert_eq!(parsed, webpki_root_certs::TLS_SERVER_ROOT_CERTS);
        for name in
            ["Amazon Root CA 1", "Amazon Root CA 2", "Amazon Root CA 3", "Amazon Root CA 4", "Starfield Services Root"]
        {
            assert!(parsed.iter().any(|der| der.windows(name.len()).any(|w| w == name.as_bytes())), "{name}");
        }
    }
}
