#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Phone numbers come in this function's requests (issue 17: no cold penalty for them).
    shared::domain::PhoneNumber::preload();
    shared::http::run(request_code::handle).await
}
