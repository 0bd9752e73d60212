//! `POST /v1/verifications`: send a 6-digit code to a phone or email.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use shared::api::verification::{CodeSent, RequestCodeBody};
use shared::domain::verification::request_code;
use shared::{http, App, Result, Timestamp};

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    let body: RequestCodeBody = http::json_body(&request)?;
    let code_request = body.into_request(http::client_ip(&request), http::language(&request))?;
    let sent = request_code(app, code_request, Timestamp::now(), &mut rand::rngs::OsRng).await?;
    Ok(http::json_response(StatusCode::ACCEPTED, &CodeSent::from(sent)))
}
