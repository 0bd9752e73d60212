//! `POST /v1/accounts`: set a password, accept the terms, and own the verified phone or email.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use shared::domain::account::{create_account, NewAccount};
use shared::domain::password::Password;
use shared::{http, App, Result, Timestamp};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateAccountBody {
    verification_token: String,
    password: String,
    accept_terms: bool,
    terms_version: Option<String>,
}

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    let body: CreateAccountBody = http::json_body(&request)?;
    let idempotency = http::idempotency(app, &request)?;
    let new_account = NewAccount {
        verification_token: body.verification_token,
        password: Password::new(&body.password),
        accept_terms: body.accept_terms,
        terms_version: body.terms_version,
    };
    let created = create_account(app, new_account, idempotency, Timestamp::now(), &mut rand::rngs::OsRng).await?;
    Ok(http::json_response(StatusCode::CREATED, &created))
}
