//! `POST /v1/verifications/{verification_id}/confirm`: trade a code for a single-use token.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use shared::api::verification::{CodeBody, TokenIssued};
use shared::domain::verification::confirm_code;
use shared::{http, App, Result, Timestamp};

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    let body: CodeBody = http::json_body(&request)?;
    let id = http::path_parameter(&request, "verification_id").unwrap_or_default();
    let issued = confirm_code(app, &id, &body.code, Timestamp::now(), &mut rand::rngs::OsRng).await?;
    Ok(http::json_response(StatusCode::OK, &TokenIssued::from(issued)))
}
