//! What `register-client` does: registers a relying party (`Client::register`) under the
//! service secret read from Secrets Manager, as the functions read it, and stores it
//! (`OidcStore::put_client`), replacing a client of the same id. Beside the signing keys: the
//! other step of setting up the provider.

use rand::{CryptoRng, RngCore};

use domain::error::Error;
use domain::oidc::client::{Client, ClientKind, Party, RedirectUri, Registration};
use domain::oidc::scope::Scope;
use domain::secret::ServiceSecret;
use domain::store::OidcStore;

use super::aws_detail;
use super::flags::Flags;

pub const USAGE: &str = "usage: register-client <TABLE_NAME> --service-secret <secret name or ARN> --id <client id> \
--name <name> --party first|third --public|--confidential --redirect-uri <uri> [--redirect-uri <uri>]... \
[--post-logout-uri <uri>]... [--sector <sector>] --scopes \"openid email phone\"";

/// What the last line of the output starts with for a confidential client.
pub const SECRET_LINE: &str = "client secret: ";

#[derive(Debug, Clone)]
pub struct ClientRegistration {
    /// The table whose `DynamoStore` the client is stored in.
    pub table: String,
    /// The service secret's name or ARN (`SERVICE_SECRET_ARN` of the functions).
    pub service_secret: String,
    pub registration: Registration,
}

/// `register-client`'s arguments, or what is wrong with them.
pub fn parse_args(args: &[String]) -> Result<ClientRegistration, String> {
    let valued = [
        "--service-secret",
        "--id",
        "--name",
        "--party",
        "--redirect-uri",
        "--post-logout-uri",
        "--scopes",
        "--sector",
    ];
    let flags = Flags::parse(args, &valued, &["--public", "--confidential"])
        .ok_or("a table name first, then known flags, each with its value")?;
    let required = |flag: &str| flags.one(flag)?.ok_or(format!("{flag} is required"));
    let party = match required("--party")? {
        "first" => Party::First,
        "third" => Party::Third,
        other => return Err(format!("--party is first or third, not {other:?}")),
    };
    let confidential = match (flags.has("--public"), flags.has("--confidential")) {
        (true, false) => false,
        (false, true) => true,
        _ => return Err("give one of --public and --confidential".into()),
    };
    let scopes = required("--scopes")?;
    if let Some(unknown) = scopes.split_whitespace().find(|word| Scope::parse(word).is_none()) {
        return Err(format!("{unknown:?} is not a scope the provider knows"));
    }
    let owned = |values: Vec<&str>| values.into_iter().map(str::to_owned).collect();
    Ok(ClientRegistration {
        table: flags.positional.to_owned(),
        service_secret: required("--service-secret")?.to_owned(),
        registration: Registration {
            id: required("--id")?.to_owned(),
            name: required("--name")?.to_owned(),
            party,
            confidential,
            redirect_uris: owned(flags.all("--redirect-uri")),
            post_logout_redirect_uris: owned(flags.all("--post-logout-uri")),
            scopes: scopes.to_owned(),
            sector: flags.one("--sector")?.map(str::to_owned),
        },
    })
}

/// Registers the client and stores it in `store` (the table's `DynamoStore`); what it did, for
/// the operator, with a confidential client's secret alone on the last line (`SECRET_LINE`),
/// shown this once.
pub async fn register(
    secrets: &aws_sdk_secretsmanager::Client,
    store: &dyn OidcStore,
    request: ClientRegistration,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<String, String> {
    let secret = service_secret(secrets, &request.service_secret).await?;
    let (client, issued) = Client::register(request.registration, &secret, rng).map_err(|e| detail(&e))?;
    let replaced = store.client(&client.id).await.map_err(|e| detail(&e))?.is_some();
    store.put_client(&client).await.map_err(|e| detail(&e))?;

    let party = match client.party {
        Party::First => "first-party",
        Party::Third => "third-party",
    };
    let kind = match client.kind {
        ClientKind::Public => "public",
        ClientKind::Confidential { .. } => "confidential",
    };
    let uris = |uris: &[RedirectUri]| match uris.iter().map(RedirectUri::as_str).collect::<Vec<_>>() {
        texts if texts.is_empty() => "none".to_owned(),
        texts => texts.join(" "),
    };
    let id = client.id.as_str();
    let done = if replaced {
        format!("replaced client {id}: the registration it had before is gone, and any secret it had no longer works")
    } else {
        format!("registered client {id}")
    };
    let mut lines = vec![
        done,
        format!("{:?}, {party}, {kind}, sector {}", client.name, client.sector),
        format!("redirect URIs: {}", uris(&client.redirect_uris)),
        format!("post-logout redirect URIs: {}", uris(&client.post_logout_redirect_uris)),
        format!("scopes: {}", client.allowed_scopes),
    ];
    if let Some(issued) = issued {
        lines.push("the client secret is shown this once; the table keeps only a keyed hash of it".into());
        lines.push(format!("{SECRET_LINE}{}", issued.0));
    }
    Ok(lines.join("\n"))
}

/// The service secret's current keyring, read as the functions read `SERVICE_SECRET_ARN`.
async fn service_secret(secrets: &aws_sdk_secretsmanager::Client, id: &str) -> Result<ServiceSecret, String> {
    let output = secrets
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| format!("cannot read the service secret {id}: {}", aws_detail(&e)))?;
    let text = output.secret_string().ok_or_else(|| format!("the service secret {id} has no string value"))?;
    domain::config::keyring("--service-secret", text).map_err(|e| e.to_string())
}

/// What the operator is told: the detail of an internal error (its `Display` hides it).
fn detail(error: &Error) -> String {
    match error {
        Error::Internal(detail) => detail.clone(),
        other => other.to_string(),
    }
}
