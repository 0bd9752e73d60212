//! Rotates the OpenID Connect signing key (see `shared::signing::rotate`):
//!
//!   rotate-signing-key <TABLE_NAME> --stack <stack name> [--key-id <key ARN or id>]
//!
//! Without `--key-id` it creates a KMS key (ECC_NIST_P256, SIGN_VERIFY, tagged
//! `oidc-signing=<stack>`); with it, it takes that key, which must be such a key of the stack
//! (the first deploy's is the stack's `SigningKeyArn` output). Run it once to set OpenID Connect
//! up, then whenever the key is to change. Credentials come from the environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, and
//! `AWS_ENDPOINT_URL` for moto), e.g. `eval "$(aws configure export-credentials --format env)"`.

use std::process::ExitCode;

use shared::signing::rotate::{parse_args, rotate, USAGE};
use shared::Timestamp;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(rotation) = parse_args(&args) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let rotated = match shared::sdk::environment_sdk_config() {
        Ok(sdk) => {
            let (kms, dynamo) = (aws_sdk_kms::Client::new(&sdk), aws_sdk_dynamodb::Client::new(&sdk));
            rotate(&kms, &dynamo, &rotation, Timestamp::now()).await
        }
        Err(error) => Err(error.to_string()),
    };
    match rotated {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("rotate-signing-key: {error}");
            ExitCode::FAILURE
        }
    }
}
