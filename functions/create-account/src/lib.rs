//! `POST /v1/accounts`: set a password, accept the terms, and own the verified phone or email.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use shared::api::account::{AccountCreated, CreateAccountBody};
use shared::domain::account::create_account;
use shared::{http, App, Result, Timestamp};

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    let body: CreateAccountBody = http::json_body(&request)?;
    let idempotency = http::idempotency(app, &request)?;
    let created = create_account(app, body.into(), idempotency, Timestamp::now(), &mut rand::rngs::OsRng).await?;
    Ok(http::json_response(StatusCode::CREATED, &AccountCreated::from(created)))
}
