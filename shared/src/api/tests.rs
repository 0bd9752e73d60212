//! The exact JSON of every answer, as the domain's results serialised before they had API types
//! of their own: field names, `null` against absent, and the error body's key order.

use serde::Serialize;

use super::{account, captcha, error, recovery, session, two_factor, verification};
use domain::account::{Account, AccountCreated, SecondFactor};
use domain::captcha::{v1, Challenge};
use domain::password::{PasswordHash, Violation};
use domain::second_factor::MfaMethod;
use domain::self_service::{NewRecoveryCodes, SessionView, SessionsView};
use domain::session::SessionIssued;
use domain::sign_in::{MfaSignedIn, SecondFactorRequired, SignInOutcome, SmsCodeSent};
use domain::two_factor::{SetupStarted, TwoFactorEnabled};
use domain::verification::{CaptchaWidget, CodeSent, TokenIssued};
use domain::{AccountId, ChallengeId, Channel, Contact, Error, PhoneNumber, Timestamp};

fn json(value: impl Serialize) -> String {
    serde_json::to_string(&value).unwrap()
}

fn issued() -> SessionIssued {
    SessionIssued { session_token: "a.b.c".into(), expires_in: 3600 }
}

#[test]
fn verification_answers() {
    let sent = CodeSent {
        verification_id: "v".into(),
        channel: Channel::Email,
        destination: "a***@example.com".into(),
        expires_in: 600,
        resend_after: 60,
    };
    assert_eq!(
        json(verification::CodeSent::from(sent)),
        r#"{"verification_id":"v","channel":"email","destination":"a***@example.com","expires_in":600,"resend_after":60}"#
    );
    let token = TokenIssued { verification_token: "t".into(), expires_in: 900 };
    assert_eq!(json(verification::TokenIssued::from(token)), r#"{"verification_token":"t","expires_in":900}"#);
}

#[test]
fn captcha_answers() {
    let v2 = r#"{"parameters":{"algorithm":"ARGON2ID","cost":2,"data":{"difficulty":100000},"expiresAt":1700000300,"keyLength":32,"keyPrefix":"p","keySignature":"k","memoryCost":16384,"nonce":"n","salt":"s"},"signature":"x"}"#;
    let challenge = Challenge::V2(serde_json::from_str(v2).unwrap());
    assert_eq!(json(captcha::CaptchaWidget::from(CaptchaWidget::ProofOfWork(challenge))), v2);
    let challenge = v1::Challenge {
        algorithm: "SHA-256".into(),
        challenge: "c".into(),
        maxnumber: 5,
        salt: "s".into(),
        signature: "x".into(),
    };
    assert_eq!(
        json(captcha::CaptchaWidget::from(CaptchaWidget::ProofOfWork(Challenge::V1(challenge)))),
        r#"{"algorithm":"SHA-256","challenge":"c","maxnumber":5,"salt":"s","signature":"x"}"#
    );
    let widget = CaptchaWidget::ThirdParty { provider: "turnstile", site_key: "k".into() };
    assert_eq!(json(captcha::CaptchaWidget::from(widget)), r#"{"provider":"turnstile","site_key":"k"}"#);
    assert_eq!(captcha::min_difficulty(Some("7")).unwrap(), Some(7));
    assert_eq!(captcha::min_difficulty(None).unwrap(), None);
    assert_eq!(captcha::min_difficulty(Some("-1")).unwrap_err().code(), "invalid_request");
}

#[test]
fn account_answers() {
    let created = AccountCreated { account_id: AccountId::stored("a".into()), login: "+14155550123".into() };
    assert_eq!(json(account::AccountCreated::from(created)), r#"{"account_id":"a","login":"+14155550123"}"#);

    let phone = Contact::Phone(PhoneNumber::parse(None, "+14155550123").unwrap());
    let masked = phone.masked();
    let mut owner = Account::new(
        AccountId::stored("a".into()),
        PasswordHash::stored("hash".into()),
        phone.clone(),
        "2026-11".into(),
        Timestamp(7),
    );
    owner.two_factor.methods = vec![SecondFactor::Totp, SecondFactor::Sms];
    assert_eq!(
        json(account::AccountView::from(&owner)),
        format!(
            concat!(
                r#"{{"account_id":"a","created_at":7,"terms_version":"2026-11","#,
                r#""contacts":[{{"type":"phone","value":"{}","role":"primary","verified":true}}],"#,
                r#""two_factor":{{"enabled":true,"methods":["totp","sms"]}}}}"#
            ),
            masked
        )
    );
    assert_eq!(
        json(account::ContactView::recovery(&phone)),
        format!(r#"{{"type":"phone","value":"{masked}","role":"recovery","verified":true}}"#)
    );
}

#[test]
fn sign_in_answers() {
    let signed_in = session::SignInOutcome::from(SignInOutcome::SignedIn(issued()));
    assert_eq!(json(signed_in), r#"{"session_token":"a.b.c","expires_in":3600}"#);
    let required = SecondFactorRequired {
        challenge_id: ChallengeId::stored("c".into()),
        methods: vec![MfaMethod::Totp, MfaMethod::RecoveryCode],
    };
    let expected = r#"{"mfa_required":true,"challenge_id":"c","methods":["totp","recovery_code"]}"#;
    assert_eq!(json(session::SignInOutcome::from(SignInOutcome::MfaRequired(required))), expected);

    let remembered = MfaSignedIn { session: issued(), device_token: Some("d".into()) };
    assert_eq!(
        json(session::MfaSignedIn::from(remembered)),
        r#"{"session_token":"a.b.c","expires_in":3600,"device_token":"d"}"#
    );
    let forgotten = MfaSignedIn { session: issued(), device_token: None };
    assert_eq!(json(session::MfaSignedIn::from(forgotten)), r#"{"session_token":"a.b.c","expires_in":3600}"#);
    let sms = SmsCodeSent { destination: "+1 *** 23".into(), resend_after: 60 };
    assert_eq!(json(session::SmsCodeSent::from(sms)), r#"{"destination":"+1 *** 23","resend_after":60}"#);
}

#[test]
fn reset_answers() {
    assert!(recovery::reset_answer(domain::recovery::ResetOutcome::Done).is_none());
    let required =
        SecondFactorRequired { challenge_id: ChallengeId::stored("c".into()), methods: vec![MfaMethod::SecondContact] };
    let answer = recovery::reset_answer(domain::recovery::ResetOutcome::MfaRequired(required));
    assert_eq!(json(answer), r#"{"mfa_required":true,"challenge_id":"c","methods":["second_contact"]}"#);
}

#[test]
fn sessions_answer_leaves_out_what_is_unknown() {
    let listed = SessionsView {
        sessions: vec![
            SessionView {
                id: "s".into(),
                kind: "session",
                created_at: 1,
                expires_at: 2,
                user_agent: None,
                client_network: Some("198.51.100.0/24".into()),
                current: true,
            },
            SessionView {
                id: "d".into(),
                kind: "device",
                created_at: 3,
                expires_at: 4,
                user_agent: Some("curl".into()),
                client_network: None,
                current: false,
            },
        ],
    };
    assert_eq!(
        json(session::SessionsView::from(listed)),
        concat!(
            r#"{"sessions":[{"id":"s","kind":"session","created_at":1,"expires_at":2,"#,
            r#""client_network":"198.51.100.0/24","current":true},"#,
            r#"{"id":"d","kind":"device","created_at":3,"expires_at":4,"user_agent":"curl","current":false}]}"#
        )
    );
}

#[test]
fn two_factor_answers() {
    let totp = SetupStarted::Totp { secret: "ABC".into(), otpauth_uri: "otpauth://totp/x".into() };
    assert_eq!(json(two_factor::SetupStarted::from(totp)), r#"{"secret":"ABC","otpauth_uri":"otpauth://totp/x"}"#);
    let sms = SetupStarted::Sms { destination: "+1 *** 23".into(), expires_in: 600 };
    assert_eq!(json(two_factor::SetupStarted::from(sms)), r#"{"destination":"+1 *** 23","expires_in":600}"#);
    let enabled = TwoFactorEnabled { enabled: true, recovery_codes: vec!["a".into()] };
    assert_eq!(json(two_factor::TwoFactorEnabled::from(enabled)), r#"{"enabled":true,"recovery_codes":["a"]}"#);
    let renewed = NewRecoveryCodes { recovery_codes: vec!["b".into()] };
    assert_eq!(json(two_factor::NewRecoveryCodes::from(renewed)), r#"{"recovery_codes":["b"]}"#);
}

#[test]
fn error_bodies_have_their_details_only() {
    let body = |error: Error| json(error::ErrorBody::from(&error));
    assert_eq!(body(Error::NotFound), r#"{"error":{"code":"not_found","message":"no such route"}}"#);
    assert_eq!(
        body(Error::InvalidCode { attempts_left: 3 }),
        r#"{"error":{"attempts_left":3,"code":"invalid_code","message":"the code is not correct"}}"#
    );
    let weak = Error::WeakPassword { violations: vec![Violation::TooShort, Violation::ContainsLogin] };
    assert_eq!(
        body(weak),
        concat!(
            r#"{"error":{"code":"weak_password","message":"the password does not meet the password rules","#,
            r#""violations":["too_short","contains_login"]}}"#
        )
    );
    let limited = Error::RateLimited { retry_after: std::time::Duration::from_secs(42) };
    assert!(body(limited).contains(r#""retry_after":42"#));
    assert!(body(Error::CaptchaTooEasy { difficulty: 9 }).contains(r#""difficulty":9,"#));
}
