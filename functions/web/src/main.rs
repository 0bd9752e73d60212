#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // The sign-up page lists every country with its calling code.
    shared::domain::PhoneNumber::preload();
    shared::http::run_pages(web::handle, web::error_page).await
}
