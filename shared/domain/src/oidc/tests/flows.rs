//! What a person and a client get when everything is right.

use super::*;

#[tokio::test]
async fn a_signed_in_person_passes_straight_through_to_verifiable_tokens() {
    let mut world = world().await;
    let (person, auth) = world.person().await;
    let app = world.app.clone();
    let outcome = world.authorize(&app, &[], Some(&auth), T0).await;
    let code = code_of(&outcome);
    let tokens = world.exchange(&app, &code, VERIFIER, T0.plus(secs(5))).await.unwrap();
    assert_eq!((tokens.token_type, tokens.expires_in, tokens.scope.as_str()), ("Bearer", 300, "openid email"));

    let id = world.id_token(&tokens).await;
    assert_eq!(id["iss"], ISSUER);
    assert_eq!(id["aud"], "app");
    assert_eq!(id["azp"], "app");
    assert_eq!(id["sub"], person.id.as_str(), "a first-party client sees the public sub");
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["auth_time"], T0.0);
    assert_eq!(id["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(id["acr"], "aal2");
    assert_eq!(id["exp"], T0.0 + 5 + 300);
    assert_eq!(id["email"], person.primary.stored());
    assert_eq!(id["email_verified"], true);
    assert!(id.get("phone_number").is_none(), "no phone on the account, and none asked for");

    let access = world.keys().await.verify(&tokens.access_token, "at+jwt").expect("an RFC 9068 access token");
    assert_eq!(
        (&access["aud"], &access["client_id"], &access["scope"]),
        (&"https://api.example.com".into(), &"app".into(), &"openid email".into())
    );
    assert!(world.keys().await.verify(&tokens.access_token, "JWT").is_none(), "typ tells the two apart");

    let keys = world.keys().await;
    let info = userinfo(world.provider(), &keys, &tokens.access_token, T0.plus(secs(60))).await.unwrap();
    assert_eq!(info["sub"], id["sub"]);
    assert_eq!(info["email"], id["email"]);
    let late = userinfo(world.provider(), &keys, &tokens.access_token, T0.plus(secs(5 + 300))).await;
    assert_eq!(late.unwrap_err().code(), Some(OAuthCode::InvalidToken), "expired");
}

#[tokio::test]
async fn without_a_session_the_person_signs_in_through_a_login_interaction() {
    let mut world = world().await;
    let (_, auth) = world.person().await;
    let app = world.app.clone();
    let AuthorizeOutcome::Login(challenge) = world.authorize(&app, &[], None, T0).await else { panic!("login") };
    let signed_in = Authentication { auth_time: T0.plus(secs(20)), amr: vec![Amr::Pwd], ..auth };
    let provider = world.provider();
    let outcome = accept_login(provider, challenge.as_str(), &signed_in, T0.plus(secs(20)), &mut rand::thread_rng())
        .await
        .unwrap();
    let code = code_of(&outcome);
    let again =
        accept_login(world.provider(), challenge.as_str(), &signed_in, T0.plus(secs(21)), &mut rand::thread_rng())
            .await;
    assert!(matches!(again.unwrap(), AuthorizeOutcome::ErrorPage(..)), "a challenge is taken once");
    let tokens = world.exchange(&app, &code, VERIFIER, T0.plus(secs(25))).await.unwrap();
    let id = world.id_token(&tokens).await;
    assert_eq!((id["auth_time"].as_i64(), id["acr"].as_str()), (Some(T0.0 + 20), Some("aal1")));
}

#[tokio::test]
async fn prompt_login_and_max_age_ask_for_a_sign_in_newer_than_the_request() {
    let mut world = world().await;
    let (_, auth) = world.person().await;
    let app = world.app.clone();
    let now = T0.plus(secs(600));
    for extra in [("prompt", "login"), ("max_age", "300")] {
        let AuthorizeOutcome::Login(challenge) = world.authorize(&app, &[extra], Some(&auth), now).await else {
            panic!("{extra:?} asks for a login")
        };
        let provider = world.provider();
        let stale = accept_login(provider, challenge.as_str(), &auth, now, &mut rand::thread_rng()).await.unwrap();
        let AuthorizeOutcome::Login(retry) = stale else { panic!("the old sign-in does not do: {stale:?}") };
        let fresh = Authentication { auth_time: now.plus(secs(30)), ..auth.clone() };
        let provider = world.provider();
        code_of(
            &accept_login(provider, retry.as_str(), &fresh, now.plus(secs(30)), &mut rand::thread_rng()).await.unwrap(),
        );
    }
    code_of(&world.authorize(&app, &[("max_age", "900")], Some(&auth), now).await);
}

#[tokio::test]
async fn a_third_party_app_asks_consent_once_and_sees_a_pairwise_sub() {
    let mut world = world().await;
    let (person, auth) = world.person().await;
    let partner = world.partner.clone();
    let none = world.authorize(&partner, &[("prompt", "none")], Some(&auth), T0).await;
    assert_eq!(error_of(&none), "consent_required");
    let AuthorizeOutcome::Consent(challenge) = world.authorize(&partner, &[], Some(&auth), T0).await else {
        panic!("a third-party client asks for consent")
    };
    let stranger = world.person().await.1;
    let provider = world.provider();
    let wrong = accept_consent(provider, challenge.as_str(), &stranger, T0, &mut rand::thread_rng()).await.unwrap();
    assert!(matches!(wrong, AuthorizeOutcome::ErrorPage(..)), "only the person who signed in consents");

    let AuthorizeOutcome::Consent(challenge) = world.authorize(&partner, &[], Some(&auth), T0).await else { panic!() };
    let provider = world.provider();
    let code =
        code_of(&accept_consent(provider, challenge.as_str(), &auth, T0, &mut rand::thread_rng()).await.unwrap());
    let first = world.exchange(&partner, &code, VERIFIER, T0).await.unwrap();
    // Remembered: no consent page the second time, even with prompt=none.
    let code = code_of(&world.authorize(&partner, &[("prompt", "none")], Some(&auth), T0).await);
    let second = world.exchange(&partner, &code, VERIFIER, T0).await.unwrap();

    let sub = world.id_token(&first).await["sub"].clone();
    assert_eq!(sub, world.id_token(&second).await["sub"], "stable across sign-ins");
    assert_ne!(sub, person.id.as_str(), "never the public sub");
    let app = world.app.clone();
    let own = world.tokens(&app, &auth).await;
    assert_ne!(world.id_token(&own).await["sub"], sub, "a first-party app's sub is not the third party's");

    // prompt=consent asks again, even though the person approved the app before.
    let again = world.authorize(&partner, &[("prompt", "consent")], Some(&auth), T0).await;
    assert!(matches!(again, AuthorizeOutcome::Consent(_)), "{again:?}");

    // The security page lists the app, and removing it there ends its tokens.
    let apps = apps_with_access(world.provider(), &person.id).await.unwrap();
    assert_eq!(
        apps.iter().map(|a| (a.client_id.as_str(), a.name.as_str())).collect::<Vec<_>>(),
        [("partner", "The partner app")]
    );
    remove_access(world.provider(), &person.id, "partner").await.unwrap();
    assert!(apps_with_access(world.provider(), &person.id).await.unwrap().is_empty());
    assert_eq!(
        world.refresh(&partner, &second.refresh_token, T0).await.unwrap_err(),
        Some(OAuthCode::InvalidGrant),
        "revoking consent ends the client's tokens"
    );
    assert!(matches!(world.authorize(&partner, &[], Some(&auth), T0).await, AuthorizeOutcome::Consent(_)));
}

#[tokio::test]
async fn declining_sends_access_denied_back() {
    let mut world = world().await;
    let app = world.app.clone();
    let AuthorizeOutcome::Login(challenge) = world.authorize(&app, &[], None, T0).await else { panic!() };
    let outcome = reject(world.provider(), challenge.as_str(), T0).await.unwrap();
    assert_eq!(error_of(&outcome), "access_denied");
    assert_eq!(query(&outcome)["state"], "st-1");
}

#[tokio::test]
async fn refreshing_rotates_the_token_and_keeps_the_sign_in() {
    let mut world = world().await;
    let (_, auth) = world.person().await;
    let partner = world.partner.clone();
    world.consented(&partner, &auth, "openid email").await;
    let first = world.tokens(&partner, &auth).await;
    let later = T0.plus(secs(3600));
    let second = world.refresh(&partner, &first.refresh_token, later).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    let id = world.id_token(&second).await;
    assert_eq!((id["auth_time"].as_i64(), id["iat"].as_i64()), (Some(T0.0), Some(later.0)));
    assert!(id.get("nonce").is_none(), "a refreshed ID token has no nonce");
    assert_eq!(id["sub"], world.id_token(&first).await["sub"]);
    let third = world.refresh(&partner, &second.refresh_token, later.plus(secs(60))).await.unwrap();

    let provider = world.provider();
    revoke(provider, &world.credentials(&partner), &third.refresh_token).await.unwrap();
    assert_eq!(
        world.refresh(&partner, &third.refresh_token, later.plus(secs(120))).await.unwrap_err(),
        Some(OAuthCode::InvalidGrant)
    );
    revoke(world.provider(), &world.credentials(&partner), "anything else").await.expect("RFC 7009: not an error");
}

#[tokio::test]
async fn logging_out_returns_to_a_registered_uri_only() {
    let mut world = world().await;
    let (account, auth) = world.person().await;
    let app = world.app.clone();
    let tokens = world.tokens(&app, &auth).await;
    let keys = world.keys().await;
    let hint = Some(tokens.id_token.as_str());
    let bye = Some("https://app.example.net/bye");
    let logout = |id_token_hint, client_id, post_logout_redirect_uri, state| Logout {
        id_token_hint,
        client_id,
        post_logout_redirect_uri,
        state,
    };
    let out = end_session(world.provider(), &keys, logout(hint, None, bye, Some("s")), None).await.unwrap();
    let redirect = Some("https://app.example.net/bye?state=s".to_owned());
    assert_eq!(out, EndSession::SignOut { client_id: Some(app.id.clone()), redirect, confirm: false });
    let elsewhere = logout(hint, None, Some("https://evil.example/bye"), None);
    assert!(matches!(end_session(world.provider(), &keys, elsewhere, None).await.unwrap(), EndSession::ErrorPage(..)));
    let mismatch = logout(hint, Some("partner"), None, None);
    assert!(matches!(end_session(world.provider(), &keys, mismatch, None).await.unwrap(), EndSession::ErrorPage(..)));
    let forged = logout(Some("e30.e30.AAAA"), None, None, None);
    assert!(matches!(end_session(world.provider(), &keys, forged, None).await.unwrap(), EndSession::ErrorPage(..)));
    assert_eq!(
        end_session(world.provider(), &keys, Logout::default(), None).await.unwrap(),
        EndSession::SignOut { client_id: None, redirect: None, confirm: false }
    );

    // Signed in: the person's own ID token signs them out at once; a link without one, or with
    // someone else's, asks them first.
    let signed_in = Some(&account.id);
    let confirm = |out: EndSession| matches!(out, EndSession::SignOut { confirm: true, .. });
    assert!(!confirm(end_session(world.provider(), &keys, logout(hint, None, bye, None), signed_in).await.unwrap()));
    let bare = logout(None, Some("app"), bye, None);
    assert!(confirm(end_session(world.provider(), &keys, bare, signed_in).await.unwrap()));
    let (stranger, _) = world.person().await;
    let theirs = end_session(world.provider(), &keys, logout(hint, None, bye, None), Some(&stranger.id)).await;
    assert!(confirm(theirs.unwrap()));
}

pub(super) fn secs(seconds: u64) -> std::time::Duration {
    std::time::Duration::from_secs(seconds)
}
