//! Cold-start reference: a bare `lambda_http` function that answers "hello", built with the
//! release profile the functions use. `tests/bench/run.sh` divides every function's cold start
//! by this one's.

use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_request: Request| async {
        Response::builder()
            .status(200)
            .header("content-type", "text/plain")
            .body(Body::from("hello"))
            .map_err(Error::from)
    }))
    .await
}
