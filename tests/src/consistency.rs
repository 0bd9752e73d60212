//! What holds of a table whatever failed on the way (the fault tests end with it): every
//! account's contacts are claimed by that account, every claim names an account that holds the
//! contact, and no outbox message is older than its time to live.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use shared::domain::{Channel, Contact};
use shared::Timestamp;

use crate::Stack;

type Item = HashMap<String, AttributeValue>;

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

impl Stack {
    pub async fn assert_consistent(&self) {
        let items = self.all_items().await;
        let mut held = HashSet::new(); // (contact, account id), as the accounts say
        let mut claimed = HashSet::new(); // the same, as the claims say
        let now = Timestamp::now();
        for item in &items {
            let (pk, sk) = (text(item, "pk").unwrap_or_default(), text(item, "sk").unwrap_or_default());
            if let (Some(account), "ACC") = (pk.strip_prefix("ACC#"), sk) {
                let primary = match text(item, "primary_channel") {
                    Some("sms") => Channel::Sms,
                    _ => Channel::Email,
                };
                let contacts = [
                    (primary, text(item, "primary_contact")),
                    (Channel::Sms, text(item, "recovery_phone")),
                    (Channel::Email, text(item, "recovery_email")),
                ];
                for (channel, stored) in contacts {
                    if let Some(stored) = stored {
                        let contact = Contact::from_stored(channel, stored).expect("a stored contact");
                        held.insert((contact.canonical(), account.to_owned()));
                    }
                }
            } else if let Some(contact) = pk.strip_prefix("ID#") {
                claimed.insert((contact.to_owned(), text(item, "account_id").unwrap_or_default().to_owned()));
            } else if pk.starts_with("OUT#") {
                let expires: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
                assert!(expires > now.0, "outbox message {pk} outlived its TTL");
            }
        }
        let unclaimed: Vec<_> = held.difference(&claimed).collect();
        let orphaned: Vec<_> = claimed.difference(&held).collect();
        assert!(unclaimed.is_empty(), "contacts an account holds but no claim names: {unclaimed:?}");
        assert!(orphaned.is_empty(), "claims without an account that holds the contact: {orphaned:?}");
    }

    async fn all_items(&self) -> Vec<Item> {
        let (mut items, mut start) = (Vec::new(), None);
        loop {
            let page = self
                .harness
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            items.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return items;
            }
        }
    }
}
