//! Registers an OpenID Connect client (relying party), or replaces the one of that id (see
//! `shared::signing::clients`):
//!
//!   register-client <TABLE_NAME> --service-secret <secret name or ARN> --id <client id>
//!     --name <name> --party first|third --public|--confidential --redirect-uri <uri>...
//!     [--post-logout-uri <uri>...] [--sector <sector>] --scopes "openid email phone"
//!
//! `--sector` is needed when the redirect URIs are not all on one host (or on none: a native
//! app's private-use scheme). A confidential client's secret is printed once, on the last line,
//! as `client secret: <secret>`. Credentials come from the environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, and `AWS_ENDPOINT_URL` for
//! moto), e.g. `eval "$(aws configure export-credentials --format env)"`.

use std::process::ExitCode;

use shared::signing::clients::{parse_args, register, USAGE};
use shared::store::DynamoStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let request = match parse_args(&args) {
        Ok(request) => request,
        Err(error) => {
            eprintln!("register-client: {error}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let registered = match shared::sdk::environment_sdk_config() {
        Ok(sdk) => {
            let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
            let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &request.table);
            register(&secrets, &store, request, &mut rand::rngs::OsRng).await
        }
        Err(error) => Err(error.to_string()),
    };
    match registered {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("register-client: {error}");
            ExitCode::FAILURE
        }
    }
}
