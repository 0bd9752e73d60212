#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::run(add_recovery_contact::handle).await
}
