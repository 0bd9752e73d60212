//! What must be refused, each case on its own.

use super::flows::secs;
use super::*;

#[tokio::test]
async fn an_unregistered_or_modified_redirect_uri_gets_an_error_page_never_a_redirect() {
    let mut world = world().await;
    let app = world.app.clone();
    for uri in [
        "https://evil.example/callback",
        "https://app.example.net/callback/",
        "https://app.example.net/callback?x=1",
        "",
    ] {
        let outcome = world.authorize(&app, &[("redirect_uri", uri)], None, T0).await;
        assert!(matches!(outcome, AuthorizeOutcome::ErrorPage(OAuthCode::InvalidRequest, _)), "{uri:?}: {outcome:?}");
    }
    let unknown = world.authorize(&app, &[("client_id", "nobody")], None, T0).await;
    assert!(matches!(unknown, AuthorizeOutcome::ErrorPage(..)));
    let partner_uri = world.partner.redirect_uris[0].as_str().to_owned();
    let other = world.authorize(&app, &[("redirect_uri", &partner_uri)], None, T0).await;
    assert!(matches!(other, AuthorizeOutcome::ErrorPage(..)), "another client's URI");
}

#[tokio::test]
async fn other_bad_requests_go_back_to_the_client_with_their_error() {
    let mut world = world().await;
    let app = world.app.clone();
    let cases: [(&[(&str, &str)], &str); 9] = [
        (&[("code_challenge", "")], "invalid_request"),
        (&[("code_challenge_method", "plain")], "invalid_request"),
        (&[("code_challenge_method", "")], "invalid_request"),
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[("scope", "email")], "invalid_scope"),
        (&[("prompt", "none login")], "invalid_request"),
        (&[("prompt", "sometimes")], "invalid_request"),
        (&[("max_age", "-1")], "invalid_request"),
        (&[("prompt", "none")], "login_required"),
    ];
    for (extra, error) in cases {
        let outcome = world.authorize(&app, extra, None, T0).await;
        assert_eq!(error_of(&outcome), error, "{extra:?}");
        assert_eq!(query(&outcome)["state"], "st-1");
    }
    let mut repeated = params(&app, &[]);
    repeated.push(("scope".into(), "openid".into()));
    let provider = world.provider();
    let outcome = authorize(provider, &repeated, None, T0, &mut rand::thread_rng()).await.unwrap();
    assert_eq!(error_of(&outcome), "invalid_request", "a repeated parameter");
}

#[tokio::test]
async fn a_code_needs_its_verifier_its_client_and_its_minute() {
    let mut world = world().await;
    let (_, auth) = world.person().await;
    let app = world.app.clone();
    let code = code_of(&world.authorize(&app, &[], Some(&auth), T0).await);
    let wrong = VERIFIER.replace('d', "e");
    assert_eq!(world.exchange(&app, &code, &wrong, T0).await.unwrap_err(), Some(OAuthCode::InvalidGrant));
    assert_eq!(world.exchange(&app, &code, "", T0).await.unwrap_err(), Some(OAuthCode::InvalidGrant), "no verifier");
    let partner = world.partner.clone();
    assert_eq!(
        world.exchange(&partner, &code, VERIFIER, T0).await.unwrap_err(),
        Some(OAuthCode::InvalidGrant),
        "another client's code"
    );
    let provider = world.provider();
    let elsewhere = exchange_code(
        provider,
        &world.credentials(&app),
        &code,
        "https://app.example.net/other",
        VERIFIER,
        T0,
        &mut rand::thread_rng(),
    )
    .await;
    assert_eq!(elsewhere.unwrap_err().code(), Some(OAuthCode::InvalidGrant), "another redirect_uri");
    assert_eq!(
        world.exchange(&app, &code, VERIFIER, T0.plus(secs(60))).await.unwrap_err(),
        Some(OAuthCode::InvalidGrant),
        "expired"
    );
    let fresh = code_of(&world.authorize(&app, &[], Some(&auth), T0).await);
    world.exchange(&app, &fresh, VERIFIER, T0.plus(secs(59))).await.expect("within the minute, after the failures");
    let tampered = format!("{}A", &fresh[..fresh.len() - 1]);
    assert_eq!(world.exchange(&app, &tampered, VERIFIER, T0).await.unwrap_err(), Some(OAuthCode::InvalidGrant));
}

#[tokio::test]
async fn a_wrong_client_secret_or_the_wrong_method_is_invalid_client() {
    let mut world = world().await;
    let (_, auth) = world.person().await;
    let partner = world.partner.clone();
    world.consented(&partner, &auth, "openid").await;
    let code = code_of(&world.authorize(&partner, &[("scope", "openid")], Some(&auth), T0).await);
    let redirect = partner.redirect_uris[0].as_str().to_owned();
    let wrong = [
        ClientCredentials::Basic { client_id: "partner".into(), secret: format!("{}x", world.partner_secret) },
        ClientCredentials::None { client_id: "partner".into() },
        ClientCredentials::Basic { client_id: "app".into(), secret: world.partner_secret.clone() },
        ClientCredentials::Basic { client_id: "nobody".into(), secret: "x".into() },
    ];
    for credentials in &wrong {
        let provider = world.provider();
        let refused =
            exchange_code(provider, credentials, &code, &redirect, VERIFIER, T0, &mut rand::thread_rng()).await;
        assert_eq!(refused.unwrap_err().code(), Some(OAuthCode::InvalidClient), "{credentials:?}");
    }
    world.exchange(&partner, &code, VERIFIER, T0).await.expect("the right secret, and the code still good");
}

#[tokio::test]
async fn a_second_exchange_of_a_code_revokes_what_the_first_gave() {
    let mut world = world().await;
    let (_, auth) = world.person().await;
    let app = world.app.clone();
    let code = code_of(&world.authorize(&app, &[], Some(&auth), T0).await);
    let first = world.exchange(&app, &code, VERIFIER, T0).await.unwrap();
    assert_eq!(world.exchange(&app, &code, VERIFIER, T0).await.unwrap_err(), Some(OAuthCode::InvalidGrant));
    assert_eq!(world.refresh(&app, &first.refresh_token, T0).await.unwrap_err(), Some(OAuthCode::InvalidGrant));
}

#[tokio::test]
async fn a_replayed_refresh_token_kills_its_family() {
    let mut world = world().await;
    let (_, auth) = world.person().await;
    let app = world.app.clone();
    let first = world.tokens(&app, &auth).await;
    let second = world.refresh(&app, &first.refresh_token, T0).await.unwrap();
    assert_eq!(world.refresh(&app, &first.refresh_token, T0).await.unwrap_err(), Some(OAuthCode::InvalidGrant));
    assert_eq!(
        world.refresh(&app, &second.refresh_token, T0).await.unwrap_err(),
        Some(OAuthCode::InvalidGrant),
        "the whole family"
    );
    let other = world.tokens(&app, &auth).await;
    world.refresh(&app, &other.refresh_token, T0).await.expect("another family lives on");
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_refresh_token_and_access_token() {
    let mut world = world().await;
    let (person, auth) = world.person().await;
    let app = world.app.clone();
    let tokens = world.tokens(&app, &auth).await;
    let code = code_of(&world.authorize(&app, &[], Some(&auth), T0).await);
    let change = AccountChange { sign_out_everywhere: Some(person.session_epoch), ..AccountChange::of(&person.id) };
    world.store.change_account(&change).await.unwrap();
    assert_eq!(world.refresh(&app, &tokens.refresh_token, T0).await.unwrap_err(), Some(OAuthCode::InvalidGrant));
    assert_eq!(
        world.exchange(&app, &code, VERIFIER, T0).await.unwrap_err(),
        Some(OAuthCode::InvalidGrant),
        "a code from before"
    );
    let keys = world.keys().await;
    let info = userinfo(world.provider(), &keys, &tokens.access_token, T0).await;
    assert_eq!(info.unwrap_err().code(), Some(OAuthCode::InvalidToken));
}

#[tokio::test]
async fn tokens_of_another_key_or_without_a_signature_are_refused() {
    let mut world = world().await;
    let (_, auth) = world.person().await;
    let app = world.app.clone();
    let tokens = world.tokens(&app, &auth).await;
    let foreign = SoftwareSigner::generate("key-1", &mut StdRng::seed_from_u64(5));
    let foreign_keys = KeySet::from_spki(&foreign.public_keys().await.unwrap()).unwrap();
    assert!(foreign_keys.verify(&tokens.id_token, "JWT").is_none(), "same kid, another key");
    let (header_payload, _) = tokens.id_token.rsplit_once('.').unwrap();
    let (_, payload) = header_payload.split_once('.').unwrap();
    // {"alg":"none","typ":"JWT","kid":"key-1"}
    let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIiwia2lkIjoia2V5LTEifQ.{payload}.");
    assert!(world.keys().await.verify(&none, "JWT").is_none(), "alg none");
    let keys = world.keys().await;
    assert!(userinfo(world.provider(), &keys, &tokens.id_token, T0).await.is_err(), "an ID token is no access token");

    // After a rotation, tokens of the old key still verify while it is published.
    world.signer.rotate("key-2", &mut StdRng::seed_from_u64(6));
    let jwks = world.keys().await.jwks();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, ["key-2", "key-1"]);
    assert!(world.keys().await.verify(&tokens.id_token, "JWT").is_some());
    let newer = world.tokens(&app, &auth).await;
    use base64::Engine;
    let header =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(newer.id_token.split('.').next().unwrap()).unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    assert_eq!(header, serde_json::json!({ "alg": "ES256", "typ": "JWT", "kid": "key-2" }));
}
