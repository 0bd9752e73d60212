#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::run(oidc_token::handle).await
}
