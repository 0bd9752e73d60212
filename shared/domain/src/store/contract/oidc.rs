//! OpenID Connect: what every [`OidcStore`] does. Its checks take a store that is both a
//! [`Store`] (to make accounts) and an `OidcStore`; `oidc_store_contract_tests!` runs them.

use crate::account::AccountChange;
use crate::oidc::client::{Client, ClientId, ClientKind, Party, RedirectUri};
use crate::oidc::decision::{Amr, Authentication};
use crate::oidc::grant::{AuthorizationCode, CodeExchange, Consent, Interaction, RefreshFamily, Stage};
use crate::oidc::pkce::CodeChallenge;
use crate::oidc::request::{AuthorizationRequest, Prompt};
use crate::oidc::scope::Scopes;
use crate::store::{OidcStore, Store};

use super::*;

fn client_id() -> ClientId {
    ClientId::parse(&format!("client-{}", text())).expect("a client id")
}

fn uri(path: &str) -> RedirectUri {
    RedirectUri::parse(&format!("https://rp.example.net/{path}")).expect("a redirect URI")
}

fn client() -> Client {
    Client {
        id: client_id(),
        name: "Contract app".into(),
        party: Party::Third,
        kind: ClientKind::Confidential { secret_hash: hash() },
        redirect_uris: vec![uri("callback"), uri("other")],
        post_logout_redirect_uris: vec![uri("bye")],
        allowed_scopes: Scopes::parse("openid email"),
        sector: "rp.example.net".into(),
    }
}

fn authentication(account: &Account) -> Authentication {
    Authentication {
        account_id: account.id.clone(),
        auth_time: T0,
        amr: vec![Amr::Pwd, Amr::Sms, Amr::Mfa],
        epoch: account.session_epoch,
    }
}

fn request(client_id: &ClientId) -> AuthorizationRequest {
    AuthorizationRequest {
        client_id: client_id.clone(),
        redirect_uri: uri("callback"),
        scopes: Scopes::parse("openid email"),
        state: Some(text()),
        nonce: Some(text()),
        code_challenge: CodeChallenge::stored(text()),
        prompt: Prompt { none: false, login: true, consent: true },
        max_age: Some(300),
        login_hint: Some("person@example.com".into()),
        ui_locales: vec!["zh-CN".into(), "en".into()],
    }
}

fn code(account: &Account, expires_at: Timestamp) -> AuthorizationCode {
    AuthorizationCode {
        id: new_id(),
        hash: hash(),
        client_id: client_id(),
        redirect_uri: uri("callback"),
        code_challenge: CodeChallenge::stored(text()),
        nonce: Some(text()),
        scopes: Scopes::parse("openid email"),
        authentication: authentication(account),
        expires_at,
        used_by: None,
    }
}

fn family(account: &Account, client_id: &ClientId) -> RefreshFamily {
    RefreshFamily {
        id: new_id(),
        client_id: client_id.clone(),
        scopes: Scopes::parse("openid"),
        authentication: authentication(account),
        current_hash: hash(),
        used_hashes: vec![hash(), hash()],
        created_at: T0,
        expires_at: at(3600),
    }
}

async fn stored_family<S: OidcStore>(store: &S, family: &RefreshFamily) -> Option<RefreshFamily> {
    store.account_with_family(family.account_id(), &family.id).await.unwrap().1
}

async fn sign_out_everywhere<S: Store>(store: &S, account: &Account) {
    let change = AccountChange { sign_out_everywhere: Some(account.session_epoch), ..AccountChange::of(&account.id) };
    store.change_account(&change).await.unwrap();
}

pub async fn clients_are_stored_as_given<S: Store + OidcStore>(store: &S) {
    let client = client();
    assert!(store.client(&client.id).await.unwrap().is_none());
    store.put_client(&client).await.unwrap();
    let stored = store.client(&client.id).await.unwrap().expect("stored");
    assert_eq!(
        (&stored.id, &stored.name, stored.party, &stored.sector),
        (&client.id, &client.name, client.party, &client.sector)
    );
    assert!(matches!(&stored.kind, ClientKind::Confidential { secret_hash } if *secret_hash == hash_of(&client)));
    assert_eq!(
        (&stored.redirect_uris, &stored.post_logout_redirect_uris),
        (&client.redirect_uris, &client.post_logout_redirect_uris)
    );
    assert_eq!(stored.allowed_scopes, client.allowed_scopes);
    let public = Client { kind: ClientKind::Public, party: Party::First, ..client.clone() };
    store.put_client(&public).await.unwrap();
    let stored = store.client(&client.id).await.unwrap().expect("replaced");
    assert!(matches!((stored.kind, stored.party), (ClientKind::Public, Party::First)));
}

fn hash_of(client: &Client) -> KeyedHash {
    match &client.kind {
        ClientKind::Confidential { secret_hash } => secret_hash.clone(),
        ClientKind::Public => panic!("a confidential client"),
    }
}

pub async fn an_interaction_is_taken_once_before_it_expires<S: Store + OidcStore>(store: &S) {
    let account = account(store).await;
    let client_id = client_id();
    for stage in [Stage::Login, Stage::Consent(authentication(&account))] {
        let interaction =
            Interaction { id: new_id(), request: request(&client_id), stage, created_at: T0, expires_at: at(600) };
        store.put_interaction(&interaction).await.unwrap();
        assert!(store.put_interaction(&interaction).await.is_err(), "ids are never reused");
        assert_eq!(store.interaction(&interaction.id).await.unwrap().as_ref(), Some(&interaction));
        assert!(store.take_interaction(&interaction.id, at(600)).await.unwrap().is_none(), "expired");
        assert_eq!(store.take_interaction(&interaction.id, at(599)).await.unwrap().as_ref(), Some(&interaction));
        assert!(store.take_interaction(&interaction.id, at(1)).await.unwrap().is_none(), "taken");
        assert!(store.interaction(&interaction.id).await.unwrap().is_none());
    }
}

pub async fn a_code_is_exchanged_once_and_then_names_its_family<S: Store + OidcStore>(store: &S) {
    let account = account(store).await;
    let code = code(&account, at(60));
    store.put_code(&code).await.unwrap();
    assert_eq!(store.code(&account.id, &code.id).await.unwrap().as_ref(), Some(&code));
    let wrong_hash = AuthorizationCode { hash: hash(), ..code.clone() };
    let first = family(&account, &code.client_id);
    assert_eq!(store.exchange_code(&wrong_hash, &first, T0).await.unwrap(), CodeExchange::Refused);
    assert_eq!(store.exchange_code(&code, &first, at(60)).await.unwrap(), CodeExchange::Refused, "expired");
    assert!(stored_family(store, &first).await.is_none(), "a refused exchange writes nothing");
    assert_eq!(store.exchange_code(&code, &first, at(59)).await.unwrap(), CodeExchange::Exchanged);
    assert_eq!(stored_family(store, &first).await.as_ref(), Some(&first));
    let stored = store.code(&account.id, &code.id).await.unwrap().expect("kept, used");
    assert_eq!(stored.used_by.as_ref(), Some(&first.id));
    let second = family(&account, &code.client_id);
    assert_eq!(store.exchange_code(&code, &second, at(1)).await.unwrap(), CodeExchange::Used(first.id.clone()));
    assert!(stored_family(store, &second).await.is_none());
    let unknown = AuthorizationCode { id: new_id(), ..code.clone() };
    assert_eq!(store.exchange_code(&unknown, &second, T0).await.unwrap(), CodeExchange::Refused);
}

pub async fn a_code_from_before_signing_out_everywhere_is_not_exchanged<S: Store + OidcStore>(store: &S) {
    let account = account(store).await;
    let code = code(&account, at(60));
    store.put_code(&code).await.unwrap();
    sign_out_everywhere(store, &account).await;
    let family = family(&account, &code.client_id);
    assert_eq!(store.exchange_code(&code, &family, T0).await.unwrap(), CodeExchange::Refused);
    assert!(stored_family(store, &family).await.is_none());
    assert!(store.code(&account.id, &code.id).await.unwrap().expect("kept").used_by.is_none());
}

pub async fn a_family_rotates_only_from_its_current_token<S: Store + OidcStore>(store: &S) {
    let account = account(store).await;
    let code = code(&account, at(60));
    store.put_code(&code).await.unwrap();
    let current = family(&account, &code.client_id);
    assert_eq!(store.exchange_code(&code, &current, T0).await.unwrap(), CodeExchange::Exchanged);
    let (read_account, _) = store.account_with_family(&account.id, &current.id).await.unwrap();
    assert_eq!(read_account.map(|a| a.id), Some(account.id.clone()));
    let next = RefreshFamily {
        current_hash: hash(),
        used_hashes: vec![current.current_hash.clone()],
        expires_at: at(7200),
        ..current.clone()
    };
    assert!(!store.rotate_refresh(&current, &next, at(3600)).await.unwrap(), "expired");
    assert!(store.rotate_refresh(&current, &next, at(10)).await.unwrap());
    assert_eq!(stored_family(store, &current).await.as_ref(), Some(&next));
    let again = RefreshFamily { current_hash: hash(), ..next.clone() };
    assert!(!store.rotate_refresh(&current, &again, at(20)).await.unwrap(), "from a rotated-away token");
    assert_eq!(stored_family(store, &current).await.as_ref(), Some(&next));

    sign_out_everywhere(store, &account).await;
    assert!(!store.rotate_refresh(&next, &again, at(30)).await.unwrap(), "the account's epoch moved on");
    store.revoke_family(&account.id, &current.id).await.unwrap();
    assert!(stored_family(store, &current).await.is_none());
    store.revoke_family(&account.id, &current.id).await.expect("revoking what is gone");
}

pub async fn consents_are_kept_per_account_and_client<S: Store + OidcStore>(store: &S) {
    let (one, two) = (account(store).await, account(store).await);
    let (a, b) = (client_id(), client_id());
    let consent = |account: &Account, client: &ClientId, scopes: &str| Consent {
        account_id: account.id.clone(),
        client_id: client.clone(),
        scopes: Scopes::parse(scopes),
        granted_at: T0,
    };
    for c in [consent(&one, &a, "openid"), consent(&one, &b, "openid email"), consent(&two, &a, "openid phone")] {
        store.put_consent(&c).await.unwrap();
    }
    let wider = consent(&one, &a, "openid email phone");
    store.put_consent(&wider).await.unwrap();
    assert_eq!(store.consent(&one.id, &a).await.unwrap().as_ref(), Some(&wider));
    let listed: Vec<ClientId> = store.consents(&one.id).await.unwrap().into_iter().map(|c| c.client_id).collect();
    assert_eq!(listed, sorted(&[a.clone(), b.clone()]));

    let (of_a, of_b, others) = (family(&one, &a), family(&one, &b), family(&two, &a));
    for family in [&of_a, &of_b, &others] {
        let code = AuthorizationCode {
            client_id: family.client_id.clone(),
            ..code(&account_for(store, family).await, at(60))
        };
        store.put_code(&code).await.unwrap();
        assert_eq!(store.exchange_code(&code, family, T0).await.unwrap(), CodeExchange::Exchanged);
    }
    store.delete_consent(&one.id, &a).await.unwrap();
    assert!(store.consent(&one.id, &a).await.unwrap().is_none());
    assert!(stored_family(store, &of_a).await.is_none(), "the client's families go with the consent");
    assert!(stored_family(store, &of_b).await.is_some(), "another client's stay");
    assert!(stored_family(store, &others).await.is_some(), "another account's stay");
    assert!(store.consent(&two.id, &a).await.unwrap().is_some());
}

async fn account_for<S: Store>(store: &S, family: &RefreshFamily) -> Account {
    stored_account(store, family.account_id()).await
}

pub async fn concurrent_exchanges_of_one_code_exchange_once<S: Store + OidcStore>(store: &S) {
    let account = account(store).await;
    let code = code(&account, at(60));
    store.put_code(&code).await.unwrap();
    let families: Vec<RefreshFamily> = (0..8).map(|_| family(&account, &code.client_id)).collect();
    let outcomes = all(families.iter().map(|f| store.exchange_code(&code, f, T0))).await;
    let exchanged = outcomes.iter().filter(|o| matches!(o, Ok(CodeExchange::Exchanged))).count();
    assert_eq!(exchanged, 1, "{outcomes:?}");
    let winner = store.code(&account.id, &code.id).await.unwrap().and_then(|c| c.used_by).expect("used");
    for (family, outcome) in families.iter().zip(&outcomes) {
        let stored = stored_family(store, family).await;
        assert_eq!(stored.is_some(), family.id == winner, "{outcome:?}");
    }
}

pub async fn concurrent_rotations_of_one_token_rotate_once<S: Store + OidcStore>(store: &S) {
    let account = account(store).await;
    let code = code(&account, at(60));
    store.put_code(&code).await.unwrap();
    let current = family(&account, &code.client_id);
    store.exchange_code(&code, &current, T0).await.unwrap();
    let nexts: Vec<RefreshFamily> = (0..8).map(|_| RefreshFamily { current_hash: hash(), ..current.clone() }).collect();
    let outcomes = all(nexts.iter().map(|next| store.rotate_refresh(&current, next, at(1)))).await;
    assert_eq!(outcomes.iter().filter(|o| matches!(o, Ok(true))).count(), 1, "{outcomes:?}");
}
