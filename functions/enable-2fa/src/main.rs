#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::run(enable_2fa::handle).await
}
