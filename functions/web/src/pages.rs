//! The pages' templates (`templates/`, checked when the crate compiles) and what each shows.

use askama::Template;
use lambda_http::http::StatusCode;

use shared::domain::Language;
use shared::App;

use crate::assets;
use crate::countries::Country;
use crate::problem::Problem;

/// The texts of a page's language, as templates call them: `t.get("signup.title")`.
#[derive(Clone, Copy)]
pub struct Texts(pub Language);

impl Texts {
    pub fn get(&self, key: &'static str) -> &'static str {
        self.0.text(key)
    }

    pub fn tag(&self) -> &'static str {
        self.0.tag()
    }
}

/// A link of the language switch: the page again, in another language.
pub struct LanguageLink {
    pub tag: &'static str,
    pub name: &'static str,
    pub href: String,
    pub current: bool,
}

/// What every page has around its content.
pub struct Layout {
    pub t: Texts,
    pub service: String,
    pub css: &'static str,
    pub js: &'static str,
    pub languages: Vec<LanguageLink>,
}

impl Layout {
    /// `path` is the page itself, to come back to after a language is chosen.
    pub fn new(language: Language, service: &str, path: &str) -> Self {
        let names =
            [(Language::English, "English"), (Language::SimplifiedChinese, "简体中文"), (Language::Hindi, "हिन्दी")];
        let back = crate::urlencode(path);
        Layout {
            t: Texts(language),
            service: service.to_owned(),
            css: assets::path(assets::Name::Site),
            js: assets::path(assets::Name::Pages),
            languages: names
                .into_iter()
                .map(|(l, name)| LanguageLink {
                    tag: l.tag(),
                    name,
                    href: format!("/language?to={}&back={back}", l.tag()),
                    current: l == language,
                })
                .collect(),
        }
    }
}

/// An error shown at the top of a form, with the rules a refused password broke.
pub struct Notice {
    pub message: String,
    pub violations: Vec<&'static str>,
}

impl Notice {
    pub fn of(problem: &Problem, language: Language) -> Notice {
        Notice { message: problem.message(language), violations: problem.violations() }
    }

    /// A page's status and notice: 200 and none, or the refusal's status and why.
    pub fn answer(problem: Option<Problem>, language: Language) -> (StatusCode, Option<Notice>) {
        match problem {
            Some(problem) => (problem.status(), Some(Notice::of(&problem, language))),
            None => (StatusCode::OK, None),
        }
    }
}

#[derive(Template)]
#[template(path = "signup.html")]
pub struct SignUpPage {
    pub layout: Layout,
    pub form: String,
    pub by_phone: bool,
    pub countries: Vec<Country>,
    pub phone: String,
    pub email: String,
    pub captcha: Captcha,
    pub notice: Option<Notice>,
}

/// The CAPTCHA widget of a form: its script, style, solver and texts, and where it fetches
/// its challenge.
pub struct Captcha {
    pub challenge_url: &'static str,
    pub script: &'static str,
    pub style: &'static str,
    pub worker: &'static str,
    pub texts: Option<&'static str>,
    pub language: &'static str,
}

impl Captcha {
    pub fn new(challenge_url: &'static str, language: Language) -> Self {
        Captcha {
            challenge_url,
            script: assets::path(assets::Name::Widget),
            style: assets::path(assets::Name::WidgetStyle),
            worker: assets::path(assets::Name::ShaWorker),
            texts: assets::widget_texts(language),
            language: match language {
                Language::English => "en",
                Language::SimplifiedChinese => "zh-cn",
                Language::Hindi => "hi",
            },
        }
    }
}

#[derive(Template)]
#[template(path = "signup_code.html")]
pub struct SignUpCodePage {
    pub layout: Layout,
    pub form: String,
    pub verification_id: String,
    /// Set once the code was confirmed: the form then asks only for the password again.
    pub verification_token: String,
    pub code_sent: String,
    pub rules: Vec<Rule>,
    pub min_chars: usize,
    pub terms_label_before: String,
    pub terms_label_between: String,
    pub terms_label_after: String,
    pub accepted: bool,
    pub notice: Option<Notice>,
    /// The page's own address, query included (where the code went), to post the form to.
    pub action: String,
}

/// A password rule as the page lists it; the script ticks it off as the person types.
pub struct Rule {
    pub key: &'static str,
    pub text: String,
    pub broken: bool,
}

/// The rules of the password policy a new password must meet, those in `broken` marked.
pub fn rules(app: &App, language: Language, broken: &[&'static str]) -> Vec<Rule> {
    let policy = &app.config.password_policy;
    let count = policy.min_chars.to_string();
    policy
        .visible_rules()
        .into_iter()
        .map(|rule| Rule {
            key: rule.key().trim_start_matches("violation."),
            text: language.fill(rule.key(), &[("count", &count)]),
            broken: broken.contains(&rule.key()),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "signin.html")]
pub struct SignInPage {
    pub layout: Layout,
    pub form: String,
    pub countries: Vec<Country>,
    pub login: String,
    pub notice: Option<Notice>,
    /// What was just done, e.g. the password reset.
    pub done: Option<&'static str>,
    /// Where the form posts: `/signin`, with the app's login challenge when there is one.
    pub action: String,
    /// "to continue to <app>", for an app's login challenge.
    pub continue_to: Option<String>,
}

#[derive(Template)]
#[template(path = "signin_code.html")]
pub struct SecondFactorPage {
    pub layout: Layout,
    pub form: String,
    pub challenge_id: String,
    pub sms: bool,
    pub totp: bool,
    pub sms_sent: Option<String>,
    pub sms_action: String,
    pub remember: bool,
    pub notice: Option<Notice>,
    pub action: String,
}

#[derive(Template)]
#[template(path = "security.html")]
pub struct SecurityPage {
    pub layout: Layout,
    pub form: String,
    pub signed_in_as: String,
    pub sign_in_with: String,
    pub recovery: Vec<RecoveryRow>,
    pub add_phone: bool,
    pub add_email: bool,
    pub two_factor: String,
    /// The second factors not on yet: (`confirm` action, label).
    pub add_methods: Vec<(&'static str, &'static str)>,
    pub two_factor_on: bool,
    pub sessions: Vec<SessionRow>,
    /// The apps signed in with the account; `None` without an OpenID Connect provider.
    pub apps: Option<Vec<AppRow>>,
    pub done: Option<&'static str>,
    pub notice: Option<Notice>,
}

pub struct AppRow {
    pub client_id: String,
    pub name: String,
}

pub struct RecoveryRow {
    pub contact: String,
    /// The `confirm` action that removes it.
    pub remove: &'static str,
}

pub struct SessionRow {
    pub id: String,
    pub label: String,
    pub detail: String,
    pub current: bool,
}

/// The proof a change asks for: the password, or with 2FA on a current code.
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub layout: Layout,
    pub form: String,
    pub title: &'static str,
    pub warning: Option<&'static str>,
    /// The code field's label, when the account has a second factor.
    pub code_label: Option<&'static str>,
    pub password_required: bool,
    pub danger: bool,
    pub action: String,
    pub notice: Option<Notice>,
}

#[derive(Template)]
#[template(path = "password.html")]
pub struct PasswordPage {
    pub layout: Layout,
    pub form: String,
    pub rules: Vec<Rule>,
    pub min_chars: usize,
    pub notice: Option<Notice>,
}

#[derive(Template)]
#[template(path = "contact.html")]
pub struct ContactPage {
    pub layout: Layout,
    pub form: String,
    pub title: &'static str,
    pub by_phone: bool,
    pub countries: Vec<Country>,
    pub phone: String,
    pub email: String,
    pub captcha: Captcha,
    pub action: String,
    pub notice: Option<Notice>,
}

#[derive(Template)]
#[template(path = "contact_code.html")]
pub struct ContactCodePage {
    pub layout: Layout,
    pub form: String,
    pub code_sent: String,
    pub verification_id: String,
    /// Set once the code was confirmed: then only the proof is asked for again.
    pub verification_token: String,
    pub two_factor: bool,
    pub action: String,
    pub notice: Option<Notice>,
}

/// Setting up a second factor: the QR code and key, or where the SMS went.
#[derive(Template)]
#[template(path = "two_factor.html")]
pub struct TwoFactorPage {
    pub layout: Layout,
    pub form: String,
    /// An SVG drawn by the server from the `otpauth://` URI.
    pub qr: Option<String>,
    pub key: Option<String>,
    pub sms_sent: Option<String>,
    pub notice: Option<Notice>,
}

#[derive(Template)]
#[template(path = "codes.html")]
pub struct CodesPage {
    pub layout: Layout,
    pub title: &'static str,
    pub codes: Vec<String>,
}

#[derive(Template)]
#[template(path = "reset.html")]
pub struct ResetPage {
    pub layout: Layout,
    pub form: String,
    pub countries: Vec<Country>,
    pub login: String,
    pub captcha: Captcha,
    pub notice: Option<Notice>,
}

#[derive(Template)]
#[template(path = "reset_code.html")]
pub struct ResetCodePage {
    pub layout: Layout,
    pub form: String,
    pub code_sent: String,
    pub verification_id: String,
    pub verification_token: String,
    pub rules: Vec<Rule>,
    pub min_chars: usize,
    pub action: String,
    pub notice: Option<Notice>,
}

/// A page of text: the terms, the privacy policy, an error.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub layout: Layout,
    pub title: String,
    pub body: String,
    pub link: Option<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage {
    pub layout: Layout,
    pub form: String,
    pub action: String,
    /// "<app> would like to:"
    pub asks: String,
    pub third_party: bool,
    pub scopes: Vec<String>,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage {
    pub layout: Layout,
    pub form: String,
    pub action: String,
}
