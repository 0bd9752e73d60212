//! The handler of each operation.

use integration_tests::{Stack, TestRequest, TestResponse};

use super::document::{openapi, operations, OPENAPI};

#[derive(Debug, Clone, Copy)]
pub enum Handler {
    Captcha,
    RequestCode,
    VerifyCode,
    CreateAccount,
    SignIn,
    ResetPassword,
    AddRecoveryContact,
    EnableTwoFactor,
    ManageAccount,
    Oidc,
    OidcToken,
}

/// The handler serving an operation. A new operation must be added here, so that its
/// examples and answers are checked like the others'.
pub fn handler(operation_id: &str) -> Handler {
    match operation_id {
        "captcha" => Handler::Captcha,
        "request-code" => Handler::RequestCode,
        "verify-code" => Handler::VerifyCode,
        "create-account" => Handler::CreateAccount,
        "sign-in" | "sign-in-mfa" | "sign-in-mfa-sms" | "sign-out" | "sign-out-everywhere" => Handler::SignIn,
        "reset-password" | "reset-password-mfa" | "reset-password-mfa-sms" => Handler::ResetPassword,
        "add-recovery-contact" => Handler::AddRecoveryContact,
        "enable-2fa" | "enable-2fa-confirm" => Handler::EnableTwoFactor,
        "manage-account"
        | "change-password"
        | "remove-recovery-contact"
        | "disable-2fa"
        | "regenerate-recovery-codes"
        | "list-sessions"
        | "revoke-session"
        | "delete-account" => Handler::ManageAccount,
        "oidc-discovery"
        | "oidc-jwks"
        | "oidc-userinfo"
        | "oidc-userinfo-post"
        | "oidc-revoke"
        | "oidc-interaction"
        | "oidc-interaction-login"
        | "oidc-interaction-consent"
        | "oidc-interaction-reject" => Handler::Oidc,
        "oidc-token" => Handler::OidcToken,
        other => panic!(
            "operationId {other:?} of {OPENAPI} has no handler in tests/tests/contract/handlers.rs: \
             add it to `handler` (and a `Handler` variant for a new function)"
        ),
    }
}

impl Handler {
    /// The cargo binary, as template.yaml's BuildProperties.Binary names it.
    pub fn function(self) -> &'static str {
        match self {
            Handler::Captcha => "captcha",
            Handler::RequestCode => "request-code",
            Handler::VerifyCode => "verify-code",
            Handler::CreateAccount => "create-account",
            Handler::SignIn => "sign-in",
            Handler::ResetPassword => "reset-password",
            Handler::AddRecoveryContact => "add-recovery-contact",
            Handler::EnableTwoFactor => "enable-2fa",
            Handler::ManageAccount => "manage-account",
            Handler::Oidc => "oidc",
            Handler::OidcToken => "oidc-token",
        }
    }

    pub async fn call(self, stack: &Stack, request: TestRequest) -> TestResponse {
        match self {
            Handler::Captcha => stack.call(captcha::handle, request).await,
            Handler::RequestCode => stack.call(request_code::handle, request).await,
            Handler::VerifyCode => stack.call(verify_code::handle, request).await,
            Handler::CreateAccount => stack.call(create_account::handle, request).await,
            Handler::SignIn => stack.call(sign_in::handle, request).await,
            Handler::ResetPassword => stack.call(reset_password::handle, request).await,
            Handler::AddRecoveryContact => stack.call(add_recovery_contact::handle, request).await,
            Handler::EnableTwoFactor => stack.call(enable_2fa::handle, request).await,
            Handler::ManageAccount => stack.call(manage_account::handle, request).await,
            Handler::Oidc => stack.call(oidc::handle, request).await,
            Handler::OidcToken => stack.call(oidc_token::handle, request).await,
        }
    }
}

#[test]
fn every_operation_has_a_handler_of_its_function() {
    let operations = operations(&openapi());
    assert!(!operations.is_empty());
    for op in &operations {
        assert_eq!(handler(&op.id).function(), op.function, "{}: x-function and the test's handler disagree", op.id);
    }
}
