#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::run(sign_in::handle).await
}
