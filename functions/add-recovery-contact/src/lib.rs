//! `POST /v1/account/recovery-contacts`: add a verified recovery phone or email, with proof.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use shared::api::account::{AddContactBody, ContactView};
use shared::domain::account_page::add_recovery_contact;
use shared::{http, App, Result, Timestamp};

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    let signed_in = http::signed_in(app, &request).await?;
    let body: AddContactBody = http::json_body(&request)?;
    let language = http::language(&request);
    let proof = body.proof()?;
    let now = Timestamp::now();
    let added = add_recovery_contact(
        app,
        &signed_in.account,
        &body.verification_token,
        &proof,
        language,
        now,
        &mut rand::rngs::OsRng,
    )
    .await?;
    Ok(http::json_response(StatusCode::CREATED, &ContactView::recovery(&added)))
}
