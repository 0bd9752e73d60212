#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::courier::run().await
}
