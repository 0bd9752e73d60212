#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::run(request_code::handle).await
}
