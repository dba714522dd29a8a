//! What changed in the inbox, for the pages watching it live: an in-process broadcast of committed
//! changes (a new message in a conversation, a message's status, a conversation's unread count), each
//! naming its account. It carries ids, statuses and counts only, never a message's text or a number.
//!
//! Publishers (`services::meta_events`, the sender's recorder, the inbox) publish after the commit;
//! a send never waits for a listener: the channel is bounded, and a listener that falls behind loses the
//! oldest changes and is told so (`Missed`), to read the page again.

use super::AccountId;
use rocket::tokio::sync::broadcast;

/// Changes kept for the slowest listener before it misses some.
const BACKLOG: usize = 1024;

/// A message's direction in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

/// One committed change of an account's inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A message was added to a conversation (the contact's id); `unread` is the conversation's count
    /// after it, for inbound messages.
    Message {
        contact: i64,
        message: i64,
        direction: Direction,
        unread: Option<i64>,
    },
    /// A message to a customer moved to `status` (sent, delivered, read, failed).
    Status {
        contact: Option<i64>,
        message: i64,
        status: String,
    },
    /// A conversation's unread count changed (it was read).
    Unread { contact: i64, unread: i64 },
}

/// A change and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub account: AccountId,
    pub change: Change,
}

/// The broadcast: one per store.
pub struct Changes {
    tx: broadcast::Sender<Event>,
}

impl Default for Changes {
    fn default() -> Self {
        Changes {
            tx: broadcast::channel(BACKLOG).0,
        }
    }
}

/// What a listener receives next.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    Change(Change),
    /// The listener fell behind and lost changes: it should read everything again.
    Missed,
    /// The store is gone.
    Closed,
}

/// One account's listener: it never sees another account's changes.
pub struct Listener {
    account: AccountId,
    rx: broadcast::Receiver<Event>,
}

impl Listener {
    /// The account's next change (another account's are skipped).
    pub async fn next(&mut self) -> Received {
        loop {
            match self.rx.recv().await {
                Ok(event) if event.account == self.account => {
                    return Received::Change(event.change);
                }
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(_)) => return Received::Missed,
                Err(broadcast::error::RecvError::Closed) => return Received::Closed,
            }
        }
    }
}

impl Changes {
    /// Publishes committed changes of an account; never blocks, and nobody listening is fine.
    pub fn publish(&self, account: AccountId, changes: impl IntoIterator<Item = Change>) {
        for change in changes {
            let _ = self.tx.send(Event { account, change });
        }
    }

    /// Listens to one account's changes from now on.
    pub fn listen(&self, account: AccountId) -> Listener {
        Listener {
            account,
            rx: self.tx.subscribe(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(contact: i64) -> Change {
        Change::Message {
            contact,
            message: contact * 10,
            direction: Direction::Inbound,
            unread: Some(1),
        }
    }

    #[rocket::async_test]
    async fn a_listener_hears_only_its_own_account() {
        let changes = Changes::default();
        let mut a = changes.listen(AccountId(1));
        changes.publish(AccountId(2), [message(2)]);
        changes.publish(AccountId(1), [message(1)]);
        assert_eq!(a.next().await, Received::Change(message(1)));
    }

    #[rocket::async_test]
    async fn a_slow_listener_misses_changes_and_is_told_so() {
        let changes = Changes::default();
        let mut slow = changes.listen(AccountId(1));
        // Publishing never waits for the listener.
        for i in 0..(BACKLOG as i64 + 10) {
            changes.publish(AccountId(1), [message(i)]);
        }
        assert_eq!(slow.next().await, Received::Missed);
        assert!(matches!(slow.next().await, Received::Change(_)));
    }
}
