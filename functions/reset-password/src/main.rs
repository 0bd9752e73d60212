#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::run(reset_password::handle).await
}
