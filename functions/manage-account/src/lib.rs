//! The account page: `GET /v1/account`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use shared::{http, App, Result};

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    if http::is_route(&request, "GET", "/v1/account") {
        let signed_in = http::signed_in(app, &request).await?;
        return Ok(http::json_response(StatusCode::OK, &signed_in.account.view()));
    }
    http::not_found()
}
