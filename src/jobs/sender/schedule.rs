//! Who sends next: a lane per connection with work, paced by a token bucket at the connection's
//! `throughput_mps`, and a turn per account. Free workers are shared out round-robin over the accounts
//! with something ready, and within an account over its connections, so one account's backlog (or one
//! paused number) never delays another's messages. A lane that may not send now (no token yet, paused
//! after Meta's throughput errors, nothing due) is simply passed over: it holds no worker and no lease.

use crate::store::AccountId;
use crate::store::connections::ConnectionId;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// One connection's place in the schedule.
struct Lane {
    account: AccountId,
    mps: f64,
    tokens: f64,
    refilled: Instant,
    paused_until: Instant,
    /// When its earliest queued message is due (`None`: nothing queued, as far as the last look knew).
    due_at: Option<Instant>,
}

impl Lane {
    fn refill(&mut self, now: Instant) {
        // Bursts of up to one second's worth, as Meta counts per second.
        let burst = self.mps.max(1.0);
        self.tokens =
            (self.tokens + now.duration_since(self.refilled).as_secs_f64() * self.mps).min(burst);
        self.refilled = now;
    }

    fn ready(&self, now: Instant) -> bool {
        self.paused_until <= now && self.due_at.is_some_and(|at| at <= now) && self.tokens >= 1.0
    }

    /// When this lane could next send, if it has anything queued.
    fn next_ready(&self, now: Instant) -> Option<Instant> {
        let due = self.due_at?;
        let token = if self.tokens >= 1.0 {
            now
        } else {
            now + Duration::from_secs_f64((1.0 - self.tokens) / self.mps.max(0.001))
        };
        Some(due.max(token).max(self.paused_until))
    }
}

#[derive(Default)]
pub struct Schedule {
    lanes: HashMap<ConnectionId, Lane>,
    /// Accounts in turn order; each with its connections in turn order.
    accounts: VecDeque<AccountId>,
    connections: HashMap<AccountId, VecDeque<ConnectionId>>,
}

/// What a refresh learned about one connection.
pub struct Seen {
    pub connection: ConnectionId,
    pub account: AccountId,
    pub mps: i64,
    /// When its earliest queued message is due.
    pub due_at: Instant,
}

impl Schedule {
    /// Takes in the connections with queued work (and their pace); lanes not seen have none.
    pub fn refresh(&mut self, seen: Vec<Seen>, now: Instant) {
        let mut present = HashSet::new();
        for s in seen {
            present.insert(s.connection);
            let mps = s.mps.max(1) as f64;
            match self.lanes.get_mut(&s.connection) {
                Some(lane) => {
                    lane.refill(now);
                    lane.mps = mps;
                    lane.due_at = Some(s.due_at);
                }
                None => {
                    self.lanes.insert(
                        s.connection,
                        Lane {
                            account: s.account,
                            mps,
                            tokens: mps,
                            refilled: now,
                            paused_until: now,
                            due_at: Some(s.due_at),
                        },
                    );
                    let turns = self.connections.entry(s.account).or_default();
                    if turns.is_empty() {
                        self.accounts.push_back(s.account);
                    }
                    turns.push_back(s.connection);
                }
            }
        }
        // A lane with nothing queued keeps its bucket (a pace must hold across a pause in traffic)
        // while it is paused or its tokens refill; after that it is forgotten.
        let forget: Vec<ConnectionId> = self
            .lanes
            .iter_mut()
            .filter(|(id, _)| !present.contains(id))
            .filter_map(|(id, lane)| {
                lane.due_at = None;
                lane.refill(now);
                (lane.paused_until <= now && lane.tokens >= lane.mps.max(1.0)).then_some(*id)
            })
            .collect();
        for id in forget {
            self.remove(id);
        }
    }

    fn remove(&mut self, id: ConnectionId) {
        let Some(lane) = self.lanes.remove(&id) else {
            return;
        };
        if let Some(turns) = self.connections.get_mut(&lane.account) {
            turns.retain(|c| *c != id);
            if turns.is_empty() {
                self.connections.remove(&lane.account);
                self.accounts.retain(|a| *a != lane.account);
            }
        }
    }

    /// Shares out up to `free` sends: how many each connection may claim now. Each takes a token.
    pub fn pick(&mut self, free: usize, now: Instant) -> Vec<(ConnectionId, usize)> {
        for lane in self.lanes.values_mut() {
            lane.refill(now);
        }
        let mut picked: Vec<(ConnectionId, usize)> = Vec::new();
        let mut given = 0;
        let mut passes_without = 0;
        while given < free && passes_without < self.accounts.len() {
            let Some(account) = self.accounts.pop_front() else {
                break;
            };
            self.accounts.push_back(account);
            let chosen = self.next_of(account, now);
            match chosen {
                Some(connection) => {
                    passes_without = 0;
                    given += 1;
                    match picked.iter_mut().find(|(c, _)| *c == connection) {
                        Some((_, n)) => *n += 1,
                        None => picked.push((connection, 1)),
                    }
                }
                None => passes_without += 1,
            }
        }
        picked
    }

    /// The account's next connection in turn that may send now, with its token taken.
    fn next_of(&mut self, account: AccountId, now: Instant) -> Option<ConnectionId> {
        let turns = self.connections.get_mut(&account)?;
        for _ in 0..turns.len() {
            let connection = turns.pop_front()?;
            turns.push_back(connection);
            if let Some(lane) = self.lanes.get_mut(&connection)
                && lane.ready(now)
            {
                lane.tokens -= 1.0;
                return Some(connection);
            }
        }
        None
    }

    /// A claim found fewer due messages than picked: the tokens go back and the lane waits for the
    /// next look at the outbox.
    pub fn claimed_fewer(&mut self, connection: ConnectionId, unused: usize) {
        if let Some(lane) = self.lanes.get_mut(&connection) {
            lane.tokens += unused as f64;
            lane.due_at = None;
        }
    }

    /// Meta asked this number to slow down: it sends nothing until `until`.
    pub fn pause(&mut self, connection: ConnectionId, until: Instant) {
        if let Some(lane) = self.lanes.get_mut(&connection) {
            lane.paused_until = lane.paused_until.max(until);
            lane.tokens = lane.tokens.min(0.0);
        }
    }

    /// Messages per second the connections with work queued may send now (not counting paused ones).
    pub fn ready_per_second(&self) -> f64 {
        let now = Instant::now();
        self.lanes
            .values()
            .filter(|l| l.due_at.is_some() && l.paused_until <= now)
            .map(|l| l.mps)
            .sum()
    }

    /// When the next send could happen, if anything is queued.
    pub fn next_ready(&self, now: Instant) -> Option<Instant> {
        self.lanes.values().filter_map(|l| l.next_ready(now)).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(connection: i64, account: i64, mps: i64, now: Instant) -> Seen {
        Seen {
            connection: ConnectionId::from_raw(connection),
            account: AccountId::from_operator(account),
            mps,
            due_at: now,
        }
    }

    #[test]
    fn free_workers_are_shared_out_by_account_then_connection() {
        let now = Instant::now();
        let mut schedule = Schedule::default();
        // Account 1 has three busy numbers, account 2 one.
        schedule.refresh(
            vec![
                seen(11, 1, 1000, now),
                seen(12, 1, 1000, now),
                seen(13, 1, 1000, now),
                seen(21, 2, 1000, now),
            ],
            now,
        );
        let picked: HashMap<_, _> = schedule.pick(8, now).into_iter().collect();
        let account = |a: i64| -> usize {
            picked
                .iter()
                .filter(|(c, _)| c.get() / 10 == a)
                .map(|(_, n)| n)
                .sum()
        };
        assert_eq!((account(1), account(2)), (4, 4), "{picked:?}");
    }

    #[test]
    fn a_paced_or_paused_connection_gives_its_turn_away() {
        let now = Instant::now();
        let mut schedule = Schedule::default();
        schedule.refresh(vec![seen(11, 1, 1, now), seen(21, 2, 1000, now)], now);
        // One message per second for connection 11: one now, then none until a second has passed.
        let first = schedule.pick(10, now);
        assert!(
            first.contains(&(ConnectionId::from_raw(11), 1)),
            "{first:?}"
        );
        assert!(
            first.contains(&(ConnectionId::from_raw(21), 9)),
            "{first:?}"
        );
        let next = schedule.pick(10, now + Duration::from_millis(10));
        assert!(!next.iter().any(|(c, _)| c.get() == 11), "{next:?}");
        assert_eq!(
            schedule.next_ready(now).map(|at| at > now),
            Some(false),
            "connection 21 still has tokens"
        );
        schedule.pause(ConnectionId::from_raw(21), now + Duration::from_secs(5));
        let later = now + Duration::from_millis(1100);
        assert_eq!(
            schedule.pick(10, later),
            vec![(ConnectionId::from_raw(11), 1)]
        );
    }
}
