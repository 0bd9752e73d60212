#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::run_without_messages(captcha::handle).await
}
