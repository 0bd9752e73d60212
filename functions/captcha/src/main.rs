#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::run_with_edge_secret_only(captcha::handle).await
}
