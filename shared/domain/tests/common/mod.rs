//! What the flow tests share: `Services` over a `MemoryStore`, a notifier that keeps every message
//! as a person's phone or inbox would, and the steps a person takes (sign up, sign in, turn on 2FA).
//! Time is a parameter: a test passes later `now` values and never sleeps.
#![allow(dead_code)] // each test file uses its own part

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rand::rngs::OsRng;
use rand::Rng;
use totp_rs::{Algorithm, Secret, TOTP};

use domain::account::{create_account, NewAccount, SecondFactor};
use domain::config::Config;
use domain::courier;
use domain::notify::{Message, Notifier, SecurityEvent, Undelivered};
use domain::outbox::MESSAGE_TTL;
use domain::password::Password;
use domain::self_service::Proof;
use domain::session::{authenticate, Authenticated, ClientInfo};
use domain::sign_in::{sign_in, SecondFactorRequired, SignInOutcome, SignInRequest};
use domain::siteverify::{CaptchaVerifier, ProviderConfig, SiteverifyRefusal};
use domain::store::MemoryStore;
use domain::two_factor::{confirm_two_factor, start_two_factor, SetupStarted};
use domain::verification::{confirm_code, request_code, CodeRequest, CodeSent, Purpose};
use domain::{AccountId, Contact, EmailAddress, Error, Language, PhoneNumber, Result, Services, Timestamp};

pub const PASSWORD: &str = "Tr0ub4dor&3-horse";
pub const NEW_PASSWORD: &str = "Quartz-Lantern-77";

/// The proof a change to how the account is recovered needs: here, the account's password.
pub fn password_proof() -> Proof {
    Proof::Password(Password::new(PASSWORD))
}
pub const SERVICE: &str = "Mi Account";
/// Every test's clock starts here: the start of an hour (and of a 15-minute window).
pub const T0: Timestamp = Timestamp(1_800_000_000);

pub fn at(seconds: i64) -> Timestamp {
    Timestamp(T0.0 + seconds)
}

/// What was sent, to whom, oldest first; and how the provider answers the next sends.
#[derive(Clone, Default)]
pub struct Inbox(Arc<Mutex<Vec<(Contact, Message)>>>, Arc<Mutex<Provider>>);

/// SES or SNS, as the courier meets them.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub enum Provider {
    #[default]
    Up,
    /// Throttled, timing out, failing on its side: `ServiceUnavailable`.
    Failing,
    /// Refusing the destination for good: a bounced address, an opted-out number.
    Refusing,
}

#[async_trait]
impl Notifier for Inbox {
    async fn send(&self, to: &Contact, message: &Message) -> std::result::Result<(), Undelivered> {
        match *self.1.lock().unwrap() {
            Provider::Up => {}
            Provider::Failing => return Err(Undelivered::Passing),
            Provider::Refusing => return Err(Undelivered::Refused),
        }
        self.0.lock().unwrap().push((to.clone(), message.clone()));
        Ok(())
    }
}

impl Inbox {
    pub fn provider(&self, provider: Provider) {
        *self.1.lock().unwrap() = provider;
    }

    pub fn to(&self, contact: &Contact) -> Vec<Message> {
        let sent = self.0.lock().unwrap();
        sent.iter().filter(|(to, _)| to.canonical() == contact.canonical()).map(|(_, m)| m.clone()).collect()
    }

    /// The code in the newest message to `contact`.
    pub fn last_code_to(&self, contact: &Contact) -> Option<String> {
        self.to(contact).last().and_then(|m| code_in(&m.text))
    }

    /// Whether `contact` was told of `event`.
    pub fn told(&self, contact: &Contact, event: SecurityEvent) -> bool {
        let subject = Message::security_notice(SERVICE, event, "", Language::English).subject;
        self.to(contact).iter().any(|m| m.subject == subject)
    }
}

/// The first run of exactly six digits, as a person spots a code.
pub fn code_in(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(5)).find_map(|i| {
        let bounded =
            (i == 0 || !bytes[i - 1].is_ascii_digit()) && bytes.get(i + 6).is_none_or(|b| !b.is_ascii_digit());
        let digits = bytes[i..i + 6].iter().all(u8::is_ascii_digit);
        (bounded && digits).then(|| text[i..i + 6].to_owned())
    })
}

/// A six-digit code that is not `code`.
pub fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

/// A CAPTCHA provider that accepts the token "good", is unreachable for "down" and refuses the rest.
pub struct StubCaptcha;

#[async_trait]
impl CaptchaVerifier for StubCaptcha {
    async fn verify(
        &self,
        _config: &ProviderConfig,
        token: Option<&str>,
        _client_ip: Option<&str>,
    ) -> std::result::Result<(), SiteverifyRefusal> {
        match token {
            Some("good") => Ok(()),
            Some("down") => Err(SiteverifyRefusal::Timeout),
            Some(_) => Err(SiteverifyRefusal::Rejected("invalid-input-response".into())),
            None => Err(SiteverifyRefusal::MissingToken),
        }
    }
}

pub fn config(settings: &[(&str, &str)]) -> Config {
    let mut env: HashMap<&str, &str> = HashMap::from([
        ("TABLE_NAME", "memory"),
        ("SENDER_EMAIL", "no-reply@accounts.example.com"),
        ("SERVICE_NAME", SERVICE),
        ("SERVICE_SECRET", "test-secret-0123456789abcdef-0123456789"),
        ("EDGE_SECRET", "test-edge-secret-0123456789abcdef-012345"),
        // Codes without a CAPTCHA, unless a test sets one.
        ("CAPTCHA_PROVIDER", "off"),
    ]);
    env.extend(settings.iter().copied());
    Config::from_lookup(|name| env.get(name).map(|v| v.to_string())).expect("a test configuration")
}

pub struct World {
    pub services: Services,
    inbox: Inbox,
    store: MemoryStore,
}

pub fn world() -> World {
    world_with(&[])
}

/// `settings` as the function environment would set them.
pub fn world_with(settings: &[(&str, &str)]) -> World {
    let (inbox, store) = (Inbox::default(), MemoryStore::new());
    let services =
        Services::new(config(settings), Box::new(store.clone()), Box::new(inbox.clone()), Box::new(StubCaptcha));
    World { services, inbox, store }
}

pub fn email() -> Contact {
    let address = format!("person.{:012x}@example.com", rand::thread_rng().gen::<u64>() >> 16);
    Contact::Email(EmailAddress::parse(&address).unwrap())
}

/// A mobile number in India.
pub fn phone() -> Contact {
    loop {
        let national = format!("9{:09}", rand::thread_rng().gen_range(0..1_000_000_000u64));
        if let Ok(phone) = PhoneNumber::parse(Some("+91"), &national) {
            return Contact::Phone(phone);
        }
    }
}

pub fn client() -> ClientInfo {
    ClientInfo { ip: Some("198.51.100.7".into()), user_agent: Some("tests/1.0".into()) }
}

pub fn totp_code(base32: &str, at: Timestamp) -> String {
    let bytes = Secret::Encoded(base32.to_owned()).to_bytes().unwrap();
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, bytes, None, String::new()).generate(at.0 as u64)
}

/// The steps a person takes.
impl World {
    /// What people have received once the courier has delivered every waiting message, each at
    /// the time it was written.
    pub async fn sent(&self) -> &Inbox {
        for message in self.store.outbox() {
            let written = Timestamp(message.expires_at.0 - MESSAGE_TTL.as_secs() as i64);
            courier::deliver(&self.services, &message.id, written).await.expect("the courier delivers");
        }
        &self.inbox
    }

    /// Messages written and not delivered yet.
    pub fn waiting(&self) -> usize {
        self.store.outbox().len()
    }

    /// Hands each waiting message to the courier once, at `now`: what became of each.
    pub async fn deliver_at(&self, now: Timestamp) -> Vec<courier::Outcome> {
        let mut outcomes = Vec::new();
        for message in self.store.outbox() {
            outcomes.push(courier::deliver(&self.services, &message.id, now).await.expect("the courier delivers"));
        }
        outcomes
    }

    /// What people received so far, without delivering anything more.
    pub fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    pub async fn request(&self, contact: &Contact, purpose: Purpose, now: Timestamp) -> Result<CodeSent> {
        let request = CodeRequest {
            captcha: None,
            contact: contact.clone(),
            purpose,
            client_ip: None,
            language: Language::English,
        };
        request_code(&self.services, request, now, &mut OsRng).await
    }

    pub async fn confirm(&self, sent: &CodeSent, code: &str, now: Timestamp) -> Result<String> {
        confirm_code(&self.services, &sent.verification_id, code, now, &mut OsRng).await.map(|t| t.verification_token)
    }

    /// Asks for a code at `now`, reads it and confirms it: the token.
    pub async fn token(&self, contact: &Contact, purpose: Purpose, now: Timestamp) -> String {
        let sent = self.request(contact, purpose, now).await.expect("a code is sent");
        let code = self.sent().await.last_code_to(contact).expect("a code arrived");
        self.confirm(&sent, &code, now).await.expect("the code confirms")
    }

    pub async fn create(&self, token: &str, password: &str, now: Timestamp) -> Result<AccountId> {
        let request = NewAccount {
            verification_token: token.to_owned(),
            password: Password::new(password),
            accept_terms: true,
            terms_version: None,
        };
        create_account(&self.services, request, None, now, &mut OsRng).await.map(|created| created.account_id)
    }

    /// Signs `contact` up at `now` with `PASSWORD`; the account id.
    pub async fn sign_up(&self, contact: &Contact, now: Timestamp) -> AccountId {
        let token = self.token(contact, Purpose::SignUp, now).await;
        self.create(&token, PASSWORD, now).await.expect("an account")
    }

    pub async fn sign_in(&self, login: &Contact, password: &str, now: Timestamp) -> Result<SignInOutcome> {
        self.sign_in_with(login, password, None, now).await
    }

    pub async fn sign_in_with(
        &self,
        login: &Contact,
        password: &str,
        device_token: Option<&str>,
        now: Timestamp,
    ) -> Result<SignInOutcome> {
        let request = SignInRequest {
            language: Language::English,
            login: login.clone(),
            password: Password::new(password),
            device_token: device_token.map(str::to_owned),
            client: client(),
        };
        sign_in(&self.services, request, now, &mut OsRng).await
    }

    /// A session token, signing in with a password alone.
    pub async fn session(&self, login: &Contact, password: &str, now: Timestamp) -> String {
        match self.sign_in(login, password, now).await {
            Ok(SignInOutcome::SignedIn(issued)) => issued.session_token,
            other => panic!("expected a session, got {other:?}"),
        }
    }

    pub async fn authenticate(&self, session: &str, now: Timestamp) -> Result<Authenticated> {
        authenticate(&self.services, Some(session), now).await
    }

    /// The signed-in account as it is now stored.
    pub async fn signed_in(&self, session: &str, now: Timestamp) -> Authenticated {
        self.authenticate(session, now).await.expect("a valid session")
    }

    /// Turns on an authenticator app at `now`: its secret and the recovery codes.
    pub async fn enable_totp(&self, session: &str, now: Timestamp) -> (String, Vec<String>) {
        let account = self.signed_in(session, now).await.account;
        let started = start_two_factor(
            &self.services,
            &account,
            SecondFactor::Totp,
            &password_proof(),
            Language::English,
            now,
            &mut OsRng,
        )
        .await;
        let Ok(SetupStarted::Totp { secret, .. }) = started else { panic!("a TOTP setup, got {started:?}") };
        let account = self.signed_in(session, now).await.account;
        let code = totp_code(&secret, now);
        let enabled = confirm_two_factor(&self.services, &account, &code, Language::English, now, &mut OsRng).await;
        (secret, enabled.expect("2FA on").recovery_codes)
    }
}

/// The challenge of a sign-in that needs a second factor.
pub fn challenge_of(outcome: Result<SignInOutcome>) -> (String, Vec<domain::second_factor::MfaMethod>) {
    match outcome {
        Ok(SignInOutcome::MfaRequired(SecondFactorRequired { challenge_id, methods })) => {
            (challenge_id.to_string(), methods)
        }
        other => panic!("expected a second-factor challenge, got {other:?}"),
    }
}

pub fn is<T: std::fmt::Debug>(result: &Result<T>, wanted: fn(&Error) -> bool) -> bool {
    matches!(result, Err(e) if wanted(e))
}
