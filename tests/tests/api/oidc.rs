//! The OpenID Connect endpoints of the oidc and oidc-token functions, as a relying party and an
//! integrator's own login frontend use them: the login challenge completed through its JSON
//! endpoints with an API session, the code exchanged with PKCE, the ID token checked against
//! the JWKS the provider publishes, userinfo, refresh-token rotation and the replay that ends
//! the family, revocation; and the refusals a client library relies on. The challenge itself
//! is opened by the domain's `authorize`, the function the web function's
//! `GET /oauth2/authorize` is a thin handler over.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use integration_tests::oidc::{RelyingParty, ISSUER, REDIRECT, SETTINGS, VERIFIER};
use integration_tests::{new_email, Stack, TestRequest};
use serde_json::Value;
use shared::domain::oidc::client::ClientCredentials;
use shared::domain::oidc::error::OAuthCode;
use shared::domain::oidc::jws::KeySet;
use shared::domain::oidc::token::exchange_code;
use shared::Timestamp;

const PASSWORD: &str = "Correct-Horse-42";

/// A person signed up by email and signed in through the API: their login and session.
async fn person(stack: &Stack) -> (String, String) {
    let email = new_email();
    stack.sign_up(&email, PASSWORD).await;
    let login = email.canonical().to_string();
    let session = stack.session(&login, PASSWORD).await;
    (login, session)
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn an_app_signs_a_person_in_through_the_json_challenge_and_keeps_them_signed_in_by_refresh() {
    let stack = Stack::with_settings(&SETTINGS).await;
    let provider = RelyingParty::register(&stack).await;
    let discovery = provider.oidc(TestRequest::get("/.well-known/openid-configuration")).await;
    assert_eq!(discovery.status, 200);
    assert_eq!(discovery.json["issuer"], ISSUER);
    assert_eq!(discovery.json["token_endpoint"], format!("{ISSUER}/oauth2/token"));
    assert_eq!(discovery.json["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(discovery.json["id_token_signing_alg_values_supported"], serde_json::json!(["ES256"]));

    let (login, session) = person(&stack).await;
    let id = provider.login_challenge("xyz", "n-0S6_WzA2Mj").await;
    let view =
        provider.oidc(TestRequest::get(&format!("/v1/oauth2/interactions/{id}")).path_parameter("id", &id)).await;
    assert_eq!((view.json["client_name"].as_str(), view.json["stage"].as_str()), (Some("Store"), Some("login")));
    let code = provider.code(&session, "xyz").await;

    let tokens = provider.exchange(&code, VERIFIER).await;
    assert_eq!(tokens.status, 200, "{:?}", tokens.json);
    assert_eq!(tokens.headers.get("cache-control").map(String::as_str), Some("no-store"));
    assert_eq!(tokens.json["token_type"], "Bearer");
    let id_token = tokens.json["id_token"].as_str().unwrap();

    // The ID token verifies with the published JWKS, under the kid its header names.
    let jwks = provider.oidc(TestRequest::get("/oauth2/jwks")).await;
    assert_eq!(jwks.status, 200);
    assert!(jwks.headers["cache-control"].starts_with("public"), "{:?}", jwks.headers);
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(id_token.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    let published: Vec<&str> =
        jwks.json["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(published.contains(&header["kid"].as_str().unwrap()), "{published:?}");
    let oidc = provider.stack.app.oidc().await.unwrap();
    let keys: KeySet = oidc.keys(Timestamp::now()).await.unwrap();
    assert_eq!(keys.jwks(), jwks.json);
    let claims = keys.verify(id_token, "JWT").expect("a valid ID token");
    assert_eq!((claims["iss"].as_str(), claims["aud"].as_str()), (Some(ISSUER), Some(provider.client_id.as_str())));
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert_eq!(claims["email"].as_str(), Some(login.as_str()));
    let sub = claims["sub"].as_str().unwrap().to_owned();
    assert_eq!(sub.len(), 43, "a third-party app sees a pairwise sub, not the account id: {sub}");

    let access = tokens.json["access_token"].as_str().unwrap();
    assert_eq!(claims_of(access)["client_id"].as_str(), Some(provider.client_id.as_str()));
    let info = provider.oidc(TestRequest::get("/oauth2/userinfo").bearer(access)).await;
    assert_eq!(info.status, 200, "{:?}", info.json);
    assert_eq!((info.json["sub"].as_str(), info.json["email"].as_str()), (Some(sub.as_str()), Some(login.as_str())));

    // Refresh rotates; the old token presented again ends the family, the new one with it.
    let first = tokens.json["refresh_token"].as_str().unwrap();
    let refreshed = provider.refresh(first).await;
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.json);
    let second = refreshed.json["refresh_token"].as_str().unwrap();
    assert_ne!(first, second);
    assert_eq!(claims_of(refreshed.json["id_token"].as_str().unwrap())["sub"].as_str(), Some(sub.as_str()));
    let replayed = provider.refresh(first).await;
    assert_eq!((replayed.status, replayed.json["error"].as_str()), (400, Some("invalid_grant")));
    let after = provider.refresh(second).await;
    assert_eq!(after.json["error"], "invalid_grant", "a replay revokes the whole family");

    // Signing in again for the same app asks no consent: it was remembered.
    let id = provider.login_challenge("again", "n2").await;
    let done = provider.interaction(&id, "login", &session).await;
    assert!(done.json["redirect_to"].as_str().unwrap().starts_with(REDIRECT), "{:?}", done.json);
}

#[tokio::test]
async fn a_code_needs_its_verifier_and_the_client_secret_and_a_second_exchange_revokes_the_first() {
    let stack = Stack::with_settings(&SETTINGS).await;
    let provider = RelyingParty::register(&stack).await;
    let (_, session) = person(&stack).await;
    let code = provider.code(&session, "s1").await;

    let wrong_secret = provider
        .token(
            &format!("{}x", provider.secret),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!((wrong_secret.status, wrong_secret.json["error"].as_str()), (401, Some("invalid_client")));
    assert!(wrong_secret.headers.contains_key("www-authenticate"));
    let no_verifier = provider.exchange(&code, "").await;
    assert_eq!(no_verifier.json["error"], "invalid_grant");

    let code = provider.code(&session, "s2").await;
    let wrong = provider.exchange(&code, &VERIFIER.replace('d', "e")).await;
    assert_eq!(wrong.json["error"], "invalid_grant");

    let code = provider.code(&session, "s3").await;
    let first = provider.exchange(&code, VERIFIER).await;
    assert_eq!(first.status, 200, "{:?}", first.json);
    let again = provider.exchange(&code, VERIFIER).await;
    assert_eq!(again.json["error"], "invalid_grant");
    let refreshed = provider.refresh(first.json["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.json["error"], "invalid_grant", "the reused code revoked what it first issued");

    let unsupported = provider.token(&provider.secret, &[("grant_type", "password")]).await;
    assert_eq!(unsupported.json["error"], "unsupported_grant_type");
    let json_body =
        provider.stack.call(oidc_token::handle, TestRequest::post("/oauth2/token", serde_json::json!({}))).await;
    assert_eq!((json_body.status, json_body.json["error"].as_str()), (400, Some("invalid_request")));
}

#[tokio::test]
async fn revocation_ends_a_refresh_family_and_signing_out_everywhere_ends_every_one() {
    let stack = Stack::with_settings(&SETTINGS).await;
    let provider = RelyingParty::register(&stack).await;
    let (_, session) = person(&stack).await;
    let code = provider.code(&session, "r1").await;
    let tokens = provider.exchange(&code, VERIFIER).await;
    let refresh_token = tokens.json["refresh_token"].as_str().unwrap();
    let body = form_urlencoded::Serializer::new(String::new()).append_pair("token", refresh_token).finish();
    let revoke = TestRequest::post_raw("/oauth2/revoke", &body)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", &provider.basic(&provider.secret));
    assert_eq!(provider.oidc(revoke).await.status, 200);
    assert_eq!(provider.refresh(refresh_token).await.json["error"], "invalid_grant");

    let code = provider.code(&session, "r2").await;
    let tokens = provider.exchange(&code, VERIFIER).await;
    let access = tokens.json["access_token"].as_str().unwrap().to_owned();
    let everywhere = provider.stack.call(sign_in::handle, TestRequest::delete("/v1/sessions").bearer(&session)).await;
    assert_eq!(everywhere.status, 204);
    assert_eq!(provider.refresh(tokens.json["refresh_token"].as_str().unwrap()).await.json["error"], "invalid_grant");
    let info = provider.oidc(TestRequest::get("/oauth2/userinfo").bearer(&access)).await;
    assert_eq!((info.status, info.json["error"].as_str()), (401, Some("invalid_token")));

    let expired = provider.oidc(TestRequest::get("/v1/oauth2/interactions/nope").path_parameter("id", "nope")).await;
    assert_eq!((expired.status, expired.error_code()), (410, "challenge_expired"));
}

#[tokio::test]
async fn a_code_works_for_sixty_seconds_only() {
    let stack = Stack::with_settings(&SETTINGS).await;
    let provider = RelyingParty::register(&stack).await;
    let (_, session) = person(&stack).await;
    let oidc = stack.app.oidc().await.unwrap();
    let credentials =
        ClientCredentials::Basic { client_id: provider.client_id.clone(), secret: provider.secret.clone() };
    let exchange_at = |code: String, seconds: i64| {
        let (oidc, credentials) = (&oidc, &credentials);
        let at = Timestamp(Timestamp::now().0 + seconds);
        async move {
            let provider = oidc.provider(&stack.app.config.secret);
            exchange_code(provider, credentials, &code, REDIRECT, VERIFIER, at, &mut rand::rngs::OsRng).await
        }
    };
    let on_time = exchange_at(provider.code(&session, "t1").await, 55).await;
    assert!(on_time.is_ok(), "{:?}", on_time.err());
    let late = exchange_at(provider.code(&session, "t2").await, 61).await;
    assert_eq!(late.err().and_then(|e| e.code()), Some(OAuthCode::InvalidGrant));
}
