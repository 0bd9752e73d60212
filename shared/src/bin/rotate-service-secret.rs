//! Rotates the service secret in Secrets Manager, one step per run (see `shared::rotation`):
//!
//!   rotate-service-secret <secret-id> show | add | promote | retire <key-id>
//!
//! Credentials come from the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, `AWS_REGION`), e.g. `eval "$(aws configure export-credentials --format env)"`.

use std::process::ExitCode;

use shared::rotation::{parse_args, rotate};
use shared::Timestamp;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((secret_id, step)) = parse_args(&args) else {
        eprintln!("usage: rotate-service-secret <secret-id> show | add | promote | retire <key-id>");
        return ExitCode::from(2);
    };
    let rotated = match shared::sdk::environment_sdk_config() {
        Ok(sdk) => {
            let client = aws_sdk_secretsmanager::Client::new(&sdk);
            rotate(&client, secret_id, &step, Timestamp::now(), &mut rand::rngs::OsRng).await
        }
        Err(error) => Err(error.to_string()),
    };
    match rotated {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("rotate-service-secret: {error}");
            ExitCode::FAILURE
        }
    }
}
