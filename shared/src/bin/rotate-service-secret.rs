//! Rotates the service secret in Secrets Manager, one step per run (see `shared::rotation`):
//!
//!   rotate-service-secret <secret-id> show | add | promote | retire <key-id>
//!
//! Credentials come from the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, `AWS_REGION`), e.g. `eval "$(aws configure export-credentials --format env)"`.

use shared::rotation::{rotate, Step};
use shared::Timestamp;

const USAGE: &str = "usage: rotate-service-secret <secret-id> show | add | promote | retire <key-id>";

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let step = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [_, "show"] => Step::Show,
        [_, "add"] => Step::Add,
        [_, "promote"] => Step::Promote,
        [_, "retire", id] => Step::Retire(id.to_owned()),
        _ => {
            eprintln!("{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    let sdk = match shared::app::environment_sdk_config() {
        Ok(sdk) => sdk,
        Err(error) => {
            eprintln!("{error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    match rotate(&client, &args[0], &step, Timestamp::now(), &mut rand::rngs::OsRng).await {
        Ok(summary) => {
            println!("{summary}");
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("rotate-service-secret: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
