#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::run(verify_code::handle).await
}
