//! `POST /v1/accounts`, the account page (`GET /v1/account`), `POST /v1/account/recovery-contacts`,
//! `PUT /v1/account/password` and `DELETE /v1/account`.

use serde::{Deserialize, Serialize};

use super::two_factor::SecondFactor;
use domain::account::{self, Account, NewAccount};
use domain::password::Password;
use domain::self_service::Proof;
use domain::{Channel, Contact, Result};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountBody {
    verification_token: String,
    password: String,
    accept_terms: bool,
    terms_version: Option<String>,
}

impl From<CreateAccountBody> for NewAccount {
    fn from(body: CreateAccountBody) -> Self {
        NewAccount {
            verification_token: body.verification_token,
            password: Password::new(&body.password),
            accept_terms: body.accept_terms,
            terms_version: body.terms_version,
        }
    }
}

wire_struct! {
    /// The answer to creating an account, and to its idempotent replay; `login` is the verified
    /// phone (E.164) or email the person signs in with.
    AccountCreated from account::AccountCreated { account_id: String, login: String }
}

/// `{"verification_token"}`: an `add_contact` token, for a recovery contact.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddContactBody {
    pub verification_token: String,
    password: Option<String>,
    code: Option<String>,
}

impl AddContactBody {
    /// What proves the change: the password, or a second factor when 2FA is on.
    pub fn proof(&self) -> Result<Proof> {
        super::two_factor::proof(self.password.clone(), self.code.clone())
    }
}

#[derive(Serialize)]
pub struct ContactView {
    #[serde(rename = "type")]
    kind: &'static str,
    /// Masked: a stolen session does not reveal the person's phone or email.
    value: String,
    role: &'static str,
    verified: bool,
}

impl ContactView {
    fn new(contact: &Contact, role: &'static str) -> Self {
        let kind = match contact.channel() {
            Channel::Sms => "phone",
            Channel::Email => "email",
        };
        ContactView { kind, value: contact.masked(), role, verified: true }
    }

    /// The answer to adding `contact` as a recovery contact.
    pub fn recovery(contact: &Contact) -> Self {
        ContactView::new(contact, "recovery")
    }
}

#[derive(Serialize)]
struct TwoFactorView {
    enabled: bool,
    methods: Vec<SecondFactor>,
}

/// The account page: what a signed-in person sees.
#[derive(Serialize)]
pub struct AccountView {
    account_id: String,
    created_at: i64,
    terms_version: String,
    contacts: Vec<ContactView>,
    two_factor: TwoFactorView,
}

impl From<&Account> for AccountView {
    fn from(account: &Account) -> Self {
        AccountView {
            account_id: account.id.to_string(),
            created_at: account.created_at.0,
            terms_version: account.terms_version.clone(),
            contacts: account.contacts().iter().map(|(contact, role)| ContactView::new(contact, role)).collect(),
            two_factor: TwoFactorView {
                enabled: account.two_factor_enabled(),
                methods: super::wire(&account.two_factor.methods),
            },
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    current_password: String,
    new_password: String,
}

impl PasswordBody {
    /// The current password and the new one.
    pub fn passwords(&self) -> (Password, Password) {
        (Password::new(&self.current_password), Password::new(&self.new_password))
    }
}

/// `{"password", "code"}`: the code (a current second factor) only when 2FA is on.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteBody {
    password: String,
    pub code: Option<String>,
}

impl DeleteBody {
    pub fn password(&self) -> Password {
        Password::new(&self.password)
    }
}
