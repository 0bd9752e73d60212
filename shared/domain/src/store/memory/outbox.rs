//! `OutboxStore`, and the outbox of the writes that carry messages.

use async_trait::async_trait;

use super::{insert_new, taken, MemoryStore, State};
use crate::error::Result;
use crate::outbox::{Claimed, Mark, Resend, SealedMessage};
use crate::store::OutboxStore;
use crate::time::Timestamp;
use crate::MessageId;

/// An outbox item: the message, its attempts, its marks, and when it was written (in order).
#[derive(Clone)]
pub(super) struct Waiting {
    message: SealedMessage,
    attempts: u32,
    charged: bool,
    sent: bool,
    written: u64,
}

impl State {
    /// The messages of a write, put as new items (each id is drawn at random just now).
    pub(super) fn enqueue(&mut self, outbox: &[SealedMessage]) -> Result<()> {
        for message in outbox {
            self.written += 1;
            let waiting =
                Waiting { message: message.clone(), attempts: 0, charged: false, sent: false, written: self.written };
            if !insert_new(&mut self.outbox, message.id.clone(), waiting) {
                return Err(taken("outbox message"));
            }
        }
        Ok(())
    }
}

impl MemoryStore {
    /// The messages waiting, in the order they were written: what the courier has yet to deliver.
    pub fn outbox(&self) -> Vec<SealedMessage> {
        let state = self.state();
        let mut waiting: Vec<&Waiting> = state.outbox.values().filter(|w| !w.sent).collect();
        waiting.sort_by_key(|w| w.written);
        waiting.into_iter().map(|w| w.message.clone()).collect()
    }
}

#[async_trait]
impl OutboxStore for MemoryStore {
    async fn enqueue(&self, outbox: &[SealedMessage]) -> Result<()> {
        self.transact(|state| state.enqueue(outbox))
    }

    async fn claim_message(&self, id: &MessageId) -> Result<Option<Claimed>> {
        Ok(self.state().outbox.get_mut(id).filter(|w| !w.sent).map(|w| {
            w.attempts += 1;
            Claimed { message: w.message.clone(), attempts: w.attempts, charged: w.charged }
        }))
    }

    async fn mark_message(&self, id: &MessageId, mark: Mark) -> Result<()> {
        if let Some(waiting) = self.state().outbox.get_mut(id) {
            match mark {
                Mark::Charged => waiting.charged = true,
                Mark::Sent => waiting.sent = true,
            }
        }
        Ok(())
    }

    async fn delete_message(&self, id: &MessageId) -> Result<()> {
        self.state().outbox.remove(id);
        Ok(())
    }

    async fn free_resend(&self, resend: &Resend) -> Result<()> {
        let mut state = self.state();
        match resend {
            Resend::Destination { key, latest } => {
                let key = crate::limits::LimitKey::from_stored(key.clone());
                if let Some((until, _)) = state.cooldowns.get_mut(&key).filter(|(_, newest)| newest == latest) {
                    *until = Timestamp(0);
                }
            }
            Resend::Challenge { id, code_hash } => {
                let current = |c: &&mut super::Challenge| {
                    c.record.sms_code_hash.as_ref().is_some_and(|hash| hash.to_hex() == *code_hash)
                };
                if let Some(challenge) = state.challenges.get_mut(id).filter(current) {
                    challenge.sms_sent_at = None;
                }
            }
            Resend::SecondFactorSetup { account, nonce } => {
                let pending = state.accounts.get_mut(account).and_then(|a| a.two_factor.pending.as_mut());
                if let Some(pending) = pending.filter(|p| p.nonce == *nonce) {
                    pending.created_at = Timestamp(0);
                }
            }
        }
        Ok(())
    }
}
