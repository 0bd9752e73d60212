//! How the OpenID Connect items are written and read back (the rest are in `items`). Lists
//! whose order matters (redirect URIs, used hashes, UI locales) are lists, not sets; scopes and
//! `amr` are space-separated, as they are written in requests and tokens.

use aws_sdk_dynamodb::types::AttributeValue;

use domain::error::{Error, Result};
use domain::oidc::client::{Client, ClientId, ClientKind, Party, RedirectUri};
use domain::oidc::decision::{Amr, Authentication};
use domain::oidc::grant::{AuthorizationCode, Consent, Interaction, RefreshFamily, Stage};
use domain::oidc::pkce::CodeChallenge;
use domain::oidc::request::{AuthorizationRequest, Prompt};
use domain::oidc::scope::Scopes;
use domain::secret::KeyedHash;
use domain::time::Timestamp;
use domain::{AccountId, CodeId, FamilyId, InteractionId};

use super::items::{get_n, get_s, opt_n, opt_s};
use super::keys::{client_key, code_key, consent_key, family_key, interaction_key, n, s};
use super::{Item, TTL_GRACE_SECS};

/// The sort-key prefixes of the account partition's OpenID Connect items that are queried.
pub(super) const FAMILY_PREFIX: &str = "FAM#";
pub(super) const CONSENT_PREFIX: &str = "CONSENT#";

fn list(values: impl IntoIterator<Item = impl Into<String>>) -> AttributeValue {
    AttributeValue::L(values.into_iter().map(s).collect())
}

fn get_list(item: &Item, name: &str) -> Result<Vec<String>> {
    match item.get(name) {
        Some(AttributeValue::L(values)) => values
            .iter()
            .map(|v| v.as_s().cloned().map_err(|_| Error::Internal(format!("stored {name} holds a non-string"))))
            .collect(),
        _ => Err(Error::Internal(format!("stored item lacks list {name}"))),
    }
}

fn hash_from(text: &str, what: &str) -> Result<KeyedHash> {
    KeyedHash::from_hex(text).ok_or_else(|| Error::Internal(format!("stored {what}")))
}

fn uri_from(text: &str) -> Result<RedirectUri> {
    RedirectUri::parse(text).ok_or_else(|| Error::Internal("stored redirect URI".into()))
}

fn uris_from(item: &Item, name: &str) -> Result<Vec<RedirectUri>> {
    get_list(item, name)?.iter().map(|uri| uri_from(uri)).collect()
}

fn client_id_from(text: &str) -> Result<ClientId> {
    ClientId::parse(text).ok_or_else(|| Error::Internal("stored client id".into()))
}

fn scopes_from(item: &Item, name: &str) -> Result<Scopes> {
    get_s(item, name).map(Scopes::parse)
}

/// The id after `prefix` in the item's sort key.
fn sort_key_id(item: &Item, prefix: &str) -> Result<String> {
    Ok(get_s(item, "sk")?.trim_start_matches(prefix).to_owned())
}

fn account_of(item: &Item) -> Result<AccountId> {
    Ok(AccountId::stored(get_s(item, "pk")?.trim_start_matches("ACC#").to_owned()))
}

fn expiry(item: &mut Item, expires_at: Timestamp) {
    item.insert("expires_at".to_owned(), n(expires_at.0));
    item.insert("ttl".to_owned(), n(expires_at.0 + TTL_GRACE_SECS));
}

/// A sign-in's attributes; its account is the partition's (codes, families) or `account_id`.
fn authentication_attributes(item: &mut Item, auth: &Authentication) {
    item.extend([
        ("auth_time".to_owned(), n(auth.auth_time.0)),
        ("amr".to_owned(), s(auth.amr.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(" "))),
        ("epoch".to_owned(), n(auth.epoch)),
    ]);
}

fn authentication_from(item: &Item, account_id: AccountId) -> Result<Authentication> {
    Ok(Authentication {
        account_id,
        auth_time: Timestamp(get_n(item, "auth_time")?),
        amr: get_s(item, "amr")?.split(' ').filter_map(Amr::parse).collect(),
        epoch: get_n(item, "epoch")?,
    })
}

pub(super) fn client_item(client: &Client) -> Item {
    let mut item = client_key(&client.id);
    let party = match client.party {
        Party::First => "first",
        Party::Third => "third",
    };
    item.extend([
        ("name".to_owned(), s(&client.name)),
        ("party".to_owned(), s(party)),
        ("redirect_uris".to_owned(), list(client.redirect_uris.iter().map(RedirectUri::as_str))),
        (
            "post_logout_redirect_uris".to_owned(),
            list(client.post_logout_redirect_uris.iter().map(RedirectUri::as_str)),
        ),
        ("allowed_scopes".to_owned(), s(client.allowed_scopes.to_string())),
        ("sector".to_owned(), s(&client.sector)),
    ]);
    // A public client has no secret: the attribute's absence is what says so.
    if let ClientKind::Confidential { secret_hash } = &client.kind {
        item.insert("secret_hash".to_owned(), s(secret_hash.to_hex()));
    }
    item
}

pub(super) fn client_from_item(item: &Item) -> Result<Client> {
    let party = match get_s(item, "party")? {
        "first" => Party::First,
        "third" => Party::Third,
        other => return Err(Error::Internal(format!("stored party {other}"))),
    };
    let kind = match opt_s(item, "secret_hash") {
        Some(hash) => ClientKind::Confidential { secret_hash: hash_from(&hash, "client secret hash")? },
        None => ClientKind::Public,
    };
    Ok(Client {
        id: client_id_from(get_s(item, "pk")?.trim_start_matches("CLIENT#"))?,
        name: get_s(item, "name")?.to_owned(),
        party,
        kind,
        redirect_uris: uris_from(item, "redirect_uris")?,
        post_logout_redirect_uris: uris_from(item, "post_logout_redirect_uris")?,
        allowed_scopes: scopes_from(item, "allowed_scopes")?,
        sector: get_s(item, "sector")?.to_owned(),
    })
}

pub(super) fn interaction_item(interaction: &Interaction) -> Item {
    let mut item = interaction_key(&interaction.id);
    let request = &interaction.request;
    let prompt = [("none", request.prompt.none), ("login", request.prompt.login), ("consent", request.prompt.consent)];
    let prompt: Vec<&str> = prompt.iter().filter(|(_, on)| *on).map(|(word, _)| *word).collect();
    item.extend([
        ("client_id".to_owned(), s(request.client_id.as_str())),
        ("redirect_uri".to_owned(), s(request.redirect_uri.as_str())),
        ("scopes".to_owned(), s(request.scopes.to_string())),
        ("code_challenge".to_owned(), s(request.code_challenge.as_str())),
        ("prompt".to_owned(), s(prompt.join(" "))),
        ("ui_locales".to_owned(), list(&request.ui_locales)),
        ("created_at".to_owned(), n(interaction.created_at.0)),
    ]);
    for (name, value) in [("state", &request.state), ("nonce", &request.nonce), ("login_hint", &request.login_hint)] {
        if let Some(value) = value {
            item.insert(name.to_owned(), s(value));
        }
    }
    if let Some(max_age) = request.max_age {
        item.insert("max_age".to_owned(), n(max_age));
    }
    match &interaction.stage {
        Stage::Login => {
            item.insert("stage".to_owned(), s("login"));
        }
        Stage::Consent(auth) => {
            item.insert("stage".to_owned(), s("consent"));
            item.insert("account_id".to_owned(), s(auth.account_id.as_str()));
            authentication_attributes(&mut item, auth);
        }
    }
    expiry(&mut item, interaction.expires_at);
    item
}

pub(super) fn interaction_from_item(item: &Item) -> Result<Interaction> {
    let prompt = get_s(item, "prompt")?.split(' ').collect::<Vec<_>>();
    let request = AuthorizationRequest {
        client_id: client_id_from(get_s(item, "client_id")?)?,
        redirect_uri: uri_from(get_s(item, "redirect_uri")?)?,
        scopes: scopes_from(item, "scopes")?,
        state: opt_s(item, "state"),
        nonce: opt_s(item, "nonce"),
        code_challenge: CodeChallenge::stored(get_s(item, "code_challenge")?.to_owned()),
        prompt: Prompt {
            none: prompt.contains(&"none"),
            login: prompt.contains(&"login"),
            consent: prompt.contains(&"consent"),
        },
        max_age: opt_n(item, "max_age"),
        login_hint: opt_s(item, "login_hint"),
        ui_locales: get_list(item, "ui_locales")?,
    };
    let stage = match get_s(item, "stage")? {
        "login" => Stage::Login,
        "consent" => {
            Stage::Consent(authentication_from(item, AccountId::stored(get_s(item, "account_id")?.to_owned()))?)
        }
        other => return Err(Error::Internal(format!("stored interaction stage {other}"))),
    };
    Ok(Interaction {
        id: InteractionId::stored(get_s(item, "pk")?.trim_start_matches("INT#").to_owned()),
        request,
        stage,
        created_at: Timestamp(get_n(item, "created_at")?),
        expires_at: Timestamp(get_n(item, "expires_at")?),
    })
}

/// A code as issued: never `used_by`, which only its exchange sets.
pub(super) fn code_item(code: &AuthorizationCode) -> Item {
    let mut item = code_key(code.account_id(), &code.id);
    item.extend([
        ("code_hash".to_owned(), s(code.hash.to_hex())),
        ("client_id".to_owned(), s(code.client_id.as_str())),
        ("redirect_uri".to_owned(), s(code.redirect_uri.as_str())),
        ("code_challenge".to_owned(), s(code.code_challenge.as_str())),
        ("scopes".to_owned(), s(code.scopes.to_string())),
    ]);
    if let Some(nonce) = &code.nonce {
        item.insert("nonce".to_owned(), s(nonce));
    }
    authentication_attributes(&mut item, &code.authentication);
    expiry(&mut item, code.expires_at);
    item
}

pub(super) fn code_from_item(item: &Item) -> Result<AuthorizationCode> {
    Ok(AuthorizationCode {
        id: CodeId::stored(sort_key_id(item, "CODE#")?),
        hash: hash_from(get_s(item, "code_hash")?, "code hash")?,
        client_id: client_id_from(get_s(item, "client_id")?)?,
        redirect_uri: uri_from(get_s(item, "redirect_uri")?)?,
        code_challenge: CodeChallenge::stored(get_s(item, "code_challenge")?.to_owned()),
        nonce: opt_s(item, "nonce"),
        scopes: scopes_from(item, "scopes")?,
        authentication: authentication_from(item, account_of(item)?)?,
        expires_at: Timestamp(get_n(item, "expires_at")?),
        used_by: opt_s(item, "used_by").map(FamilyId::stored),
    })
}

pub(super) fn family_item(family: &RefreshFamily) -> Item {
    let mut item = family_key(family.account_id(), &family.id);
    item.extend([
        ("client_id".to_owned(), s(family.client_id.as_str())),
        ("scopes".to_owned(), s(family.scopes.to_string())),
        ("current_hash".to_owned(), s(family.current_hash.to_hex())),
        ("used_hashes".to_owned(), list(family.used_hashes.iter().map(KeyedHash::to_hex))),
        ("created_at".to_owned(), n(family.created_at.0)),
    ]);
    authentication_attributes(&mut item, &family.authentication);
    expiry(&mut item, family.expires_at);
    item
}

pub(super) fn family_from_item(item: &Item) -> Result<RefreshFamily> {
    Ok(RefreshFamily {
        id: FamilyId::stored(sort_key_id(item, FAMILY_PREFIX)?),
        client_id: client_id_from(get_s(item, "client_id")?)?,
        scopes: scopes_from(item, "scopes")?,
        authentication: authentication_from(item, account_of(item)?)?,
        current_hash: hash_from(get_s(item, "current_hash")?, "refresh token hash")?,
        used_hashes: get_list(item, "used_hashes")?
            .iter()
            .map(|h| hash_from(h, "used refresh token hash"))
            .collect::<Result<_>>()?,
        created_at: Timestamp(get_n(item, "created_at")?),
        expires_at: Timestamp(get_n(item, "expires_at")?),
    })
}

pub(super) fn consent_item(consent: &Consent) -> Item {
    let mut item = consent_key(&consent.account_id, &consent.client_id);
    item.extend([
        ("scopes".to_owned(), s(consent.scopes.to_string())),
        ("granted_at".to_owned(), n(consent.granted_at.0)),
    ]);
    item
}

pub(super) fn consent_from_item(item: &Item) -> Result<Consent> {
    Ok(Consent {
        account_id: account_of(item)?,
        client_id: client_id_from(&sort_key_id(item, CONSENT_PREFIX)?)?,
        scopes: scopes_from(item, "scopes")?,
        granted_at: Timestamp(get_n(item, "granted_at")?),
    })
}
