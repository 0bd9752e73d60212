//! JSON Web Signatures with ES256 (RFC 7515, RFC 7518 3.4), the signing key behind a port so
//! that production signs with AWS KMS and the private key never leaves it. KMS `Sign`
//! (`ECDSA_SHA_256`) returns an ASN.1 DER signature and JWS wants the raw `r || s`; KMS
//! `GetPublicKey` returns SubjectPublicKeyInfo DER and JWKS wants the point's `x` and `y`.

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};

/// A key's id, in every token's header and in the JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kid(pub String);

/// An ECDSA P-256 signature over SHA-256 of the signing input, ASN.1 DER encoded.
#[derive(Debug, Clone)]
pub struct DerSignature(pub Vec<u8>);

/// A published key: its id and its SubjectPublicKeyInfo, DER encoded.
#[derive(Debug, Clone)]
pub struct PublicKeyDer {
    pub kid: Kid,
    pub spki: Vec<u8>,
}

/// Signs with the provider's key (production: KMS `Sign`, `ECDSA_SHA_256`, `MessageType: RAW`).
#[async_trait]
pub trait TokenSigner: Send + Sync {
    /// The key new tokens are signed with; named in the header, which is itself signed.
    fn current_key(&self) -> Kid;

    async fn sign(&self, kid: &Kid, signing_input: &[u8]) -> Result<DerSignature>;

    /// The keys to publish: the current one, and older ones until their tokens have expired.
    async fn public_keys(&self) -> Result<Vec<PublicKeyDer>>;
}

/// A compact JWS of `claims`, header `{"alg": "ES256", "typ": typ, "kid": ...}`.
pub async fn sign(signer: &dyn TokenSigner, typ: &str, claims: &Value) -> Result<String> {
    let kid = signer.current_key();
    let header = json!({ "alg": "ES256", "typ": typ, "kid": kid.0 });
    let input = format!("{}.{}", encode_json(&header), encode_json(claims));
    let der = signer.sign(&kid, input.as_bytes()).await?;
    let signature = Signature::from_der(&der.0).map_err(|e| Error::internal("the signer's DER signature", e))?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes())))
}

fn encode_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("JSON values serialise"))
}

/// The published keys, parsed: what a JWKS shows and what the provider checks its own tokens with.
#[derive(Debug, Clone)]
pub struct KeySet(Vec<(Kid, VerifyingKey)>);

impl KeySet {
    /// Every key must be a P-256 public key.
    pub fn from_spki(keys: &[PublicKeyDer]) -> Result<Self> {
        let parse = |key: &PublicKeyDer| {
            let verifying =
                VerifyingKey::from_public_key_der(&key.spki).map_err(|e| Error::internal("a P-256 SPKI", e))?;
            Ok((key.kid.clone(), verifying))
        };
        keys.iter().map(parse).collect::<Result<_>>().map(KeySet)
    }

    /// The JWK Set (RFC 7517 5) served at `jwks_uri`.
    pub fn jwks(&self) -> Value {
        let jwk = |(kid, key): &(Kid, VerifyingKey)| {
            let point = key.to_encoded_point(false);
            let coordinate = |c: Option<&p256::FieldBytes>| URL_SAFE_NO_PAD.encode(c.expect("an uncompressed point"));
            json!({
                "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid.0,
                "x": coordinate(point.x()), "y": coordinate(point.y()),
            })
        };
        json!({ "keys": self.0.iter().map(jwk).collect::<Vec<_>>() })
    }

    /// The claims of a compact JWS whose header is `alg: ES256` (never `none`), `typ: typ`, and
    /// a `kid` of this set, and whose signature that key verifies; `None` for anything else. The
    /// caller checks the claims (`iss`, `aud`, `exp`).
    pub fn verify(&self, token: &str, typ: &str) -> Option<Map<String, Value>> {
        let mut parts = token.split('.');
        let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Map<String, Value> = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        let named = |name| header.get(name).and_then(Value::as_str);
        if named("alg") != Some("ES256") || named("typ") != Some(typ) {
            return None;
        }
        let (_, key) = self.0.iter().find(|(kid, _)| Some(kid.0.as_str()) == named("kid"))?;
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).ok()?).ok()?;
        let input = &token[..token.rfind('.')?];
        key.verify(input.as_bytes(), &signature).ok()?;
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
    }
}

/// A signer with keys in memory, for tests: `p256`'s deterministic ECDSA (RFC 6979),
/// answering DER as KMS does.
#[cfg(any(test, feature = "memory"))]
pub struct SoftwareSigner {
    /// The current key first.
    keys: Vec<(Kid, p256::ecdsa::SigningKey)>,
}

#[cfg(any(test, feature = "memory"))]
impl SoftwareSigner {
    pub fn generate(kid: &str, rng: &mut (impl rand::RngCore + rand::CryptoRng)) -> Self {
        SoftwareSigner { keys: vec![(Kid(kid.to_owned()), p256::ecdsa::SigningKey::random(rng))] }
    }

    /// A new current key; the old ones stay published, as after a key rotation.
    pub fn rotate(&mut self, kid: &str, rng: &mut (impl rand::RngCore + rand::CryptoRng)) {
        self.keys.insert(0, (Kid(kid.to_owned()), p256::ecdsa::SigningKey::random(rng)));
    }
}

#[cfg(any(test, feature = "memory"))]
#[async_trait]
impl TokenSigner for SoftwareSigner {
    fn current_key(&self) -> Kid {
        self.keys[0].0.clone()
    }

    async fn sign(&self, kid: &Kid, signing_input: &[u8]) -> Result<DerSignature> {
        use p256::ecdsa::signature::Signer;
        let (_, key) =
            self.keys.iter().find(|(k, _)| k == kid).ok_or_else(|| Error::internal("signer", "unknown key"))?;
        let signature: Signature = key.sign(signing_input);
        Ok(DerSignature(signature.to_der().as_bytes().to_vec()))
    }

    async fn public_keys(&self) -> Result<Vec<PublicKeyDer>> {
        use p256::pkcs8::EncodePublicKey;
        let spki = |key: &p256::ecdsa::SigningKey| {
            let public = p256::PublicKey::from(key.verifying_key());
            public.to_public_key_der().map(|der| der.as_bytes().to_vec()).map_err(|e| Error::internal("SPKI", e))
        };
        self.keys.iter().map(|(kid, key)| Ok(PublicKeyDer { kid: kid.clone(), spki: spki(key)? })).collect()
    }
}
