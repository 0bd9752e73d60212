//! The pages' templates (`templates/`, checked when the crate compiles) and what each shows.

use askama::Template;

use shared::domain::Language;

use crate::assets;
use crate::countries::Country;

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

#[derive(Template)]
#[template(path = "signin.html")]
pub struct SignInPage {
    pub layout: Layout,
    pub form: String,
    pub countries: Vec<Country>,
    pub login: String,
    pub notice: Option<Notice>,
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
    pub recovery: Vec<String>,
    pub two_factor: String,
    pub sessions: Vec<SessionRow>,
    pub notice: Option<Notice>,
}

pub struct SessionRow {
    pub label: String,
    pub detail: String,
    pub current: bool,
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
