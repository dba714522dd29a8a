//! Messages accepted per account and calendar month, counted in memory and written in batches
//! (`flush`, every few seconds and at stop). The first time a month of an account is needed, its count
//! is read from the store (`store::usage::month_count`), which adds the messages accepted after the last
//! write, so a restart, even an unclean one, loses none.
//!
//! A message reserves its place before it is committed and keeps it only when it was (`Reservation`):
//! requests at once cannot pass the limit together, and a refused or repeated request counts nothing.

use super::Month;
use crate::error::{Error, Result};
use crate::store::usage::{self, Counted};
use crate::store::{AccountId, Db};
use parking_lot::Mutex;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, Default)]
struct Count {
    /// Messages committed this month.
    committed: u64,
    /// Reserved by requests on their way to the store.
    reserved: u64,
    /// Committed since the last write.
    dirty: bool,
    /// A message on its way (or committed) queues the 80 % email, and the 100 % one: the first to
    /// reach the threshold takes it, and gives it back if it is not committed.
    most_claimed: bool,
    all_claimed: bool,
}

/// A threshold of the month's quota that a message reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reached {
    /// 80 % of the quota.
    Most,
    /// All of it.
    All,
}

#[derive(Default)]
pub struct Usage {
    counts: Mutex<HashMap<(AccountId, Month), Count>>,
}

impl Usage {
    /// The account's messages this month so far, committed.
    pub async fn this_month(&self, db: &Db, account: AccountId, now: i64) -> Result<u64> {
        let month = Month::of(now);
        self.load(db, account, month).await?;
        Ok(self
            .counts
            .lock()
            .get(&(account, month))
            .map_or(0, |c| c.committed))
    }

    /// Each account's messages this month so far, committed: what memory lacks is read in one go (the
    /// operators' list of accounts).
    pub async fn this_month_of(
        &self,
        db: &Db,
        accounts: &[AccountId],
        now: i64,
    ) -> Result<Vec<u64>> {
        let month = Month::of(now);
        let missing: Vec<AccountId> = {
            let counts = self.counts.lock();
            accounts
                .iter()
                .filter(|a| !counts.contains_key(&(**a, month)))
                .copied()
                .collect()
        };
        if !missing.is_empty() {
            let (key, start) = (month.key(), month.start_ms());
            let stored = db
                .read_async(move |conn| {
                    missing
                        .into_iter()
                        .map(|a| Ok((a, usage::month_count(conn, a, &key, start)?)))
                        .collect::<Result<Vec<_>>>()
                })
                .await?;
            let mut counts = self.counts.lock();
            for (account, committed) in stored {
                counts.entry((account, month)).or_insert(Count {
                    committed,
                    ..Count::default()
                });
            }
        }
        let counts = self.counts.lock();
        Ok(accounts
            .iter()
            .map(|a| counts.get(&(*a, month)).map_or(0, |c| c.committed))
            .collect())
    }

    /// Reads the month's count from the store unless memory has it.
    async fn load(&self, db: &Db, account: AccountId, month: Month) -> Result<()> {
        if self.counts.lock().contains_key(&(account, month)) {
            return Ok(());
        }
        let (key, start) = (month.key(), month.start_ms());
        let stored = db
            .read_async(move |conn| usage::month_count(conn, account, &key, start))
            .await?;
        // Another request may have loaded it meanwhile, and counted since: its figure stands.
        self.counts.lock().entry((account, month)).or_insert(Count {
            committed: stored,
            ..Count::default()
        });
        Ok(())
    }

    /// Reserves one message of the account's month at `now`, refused when `limit` messages are
    /// committed or reserved already.
    pub async fn reserve(
        &self,
        db: &Db,
        account: AccountId,
        limit: Option<u64>,
        now: i64,
    ) -> Result<Reservation<'_>> {
        let month = Month::of(now);
        loop {
            self.load(db, account, month).await?;
            // Memory may have let go of the month between the two (a flush at the turn of the month):
            // read it again rather than count from zero.
            if let Some(place) = self.take_place(account, month, limit)? {
                return Ok(place);
            }
        }
    }

    /// Takes the next place of a month memory holds; `None` when it holds none.
    fn take_place(
        &self,
        account: AccountId,
        month: Month,
        limit: Option<u64>,
    ) -> Result<Option<Reservation<'_>>> {
        let mut counts = self.counts.lock();
        let Some(count) = counts.get_mut(&(account, month)) else {
            return Ok(None);
        };
        if let Some(limit) = limit
            && count.committed + count.reserved >= limit
        {
            return Err(Error::QuotaExceeded {
                limit,
                resets_at: month.resets_at_ms(),
            });
        }
        count.reserved += 1;
        // The first message at or past a threshold queues its email in its own transaction (the
        // store keeps one per month, so a restart that forgot the claim sends nothing twice).
        let place = count.committed + count.reserved;
        let reaches = match limit {
            Some(limit) if place >= limit && !count.all_claimed => {
                count.all_claimed = true;
                Some(Reached::All)
            }
            Some(limit) if place >= (limit * 80).div_ceil(100) && !count.most_claimed => {
                count.most_claimed = true;
                Some(Reached::Most)
            }
            _ => None,
        };
        Ok(Some(Reservation {
            usage: self,
            account,
            month,
            reaches,
            kept: false,
        }))
    }

    /// The counts committed since the last write, each as the whole month's count up to `now`; they
    /// are no longer dirty (`unwritten` marks them again when the write fails). Months that ended and
    /// are written are forgotten.
    pub fn take_dirty(&self, now: i64) -> Vec<(AccountId, String, Counted)> {
        let mut counts = self.counts.lock();
        let mut out = Vec::new();
        for ((account, month), count) in counts.iter_mut() {
            if count.dirty {
                count.dirty = false;
                out.push((
                    *account,
                    month.key(),
                    Counted {
                        messages: count.committed,
                        counted_at: now,
                    },
                ));
            }
        }
        out
    }

    /// Lets go of the months that ended, once written.
    fn forget_ended(&self, now: i64) {
        let current = Month::of(now);
        self.counts
            .lock()
            .retain(|(_, month), count| *month >= current || count.dirty || count.reserved > 0);
    }

    /// Marks counts dirty again after their write failed.
    fn unwritten(&self, rows: &[(AccountId, String, Counted)]) {
        let mut counts = self.counts.lock();
        for (account, key, _) in rows {
            for ((a, month), count) in counts.iter_mut() {
                if a == account && &month.key() == key {
                    count.dirty = true;
                }
            }
        }
    }

    /// Writes the counts committed since the last write, in one transaction.
    pub fn flush(&self, db: &Db, now: i64) {
        let rows = self.take_dirty(now);
        if !rows.is_empty() {
            let written = rows.clone();
            if let Err(e) = db.write(move |conn| usage::save(conn, &written)) {
                tracing::warn!(error = %e, "cannot write the month's message counts; they are kept for the next try");
                self.unwritten(&rows);
                return;
            }
        }
        self.forget_ended(now);
    }
}

/// One message's place in its month, held while it is committed: `keep` counts it, dropping it frees it.
pub struct Reservation<'a> {
    usage: &'a Usage,
    account: AccountId,
    month: Month,
    reaches: Option<Reached>,
    kept: bool,
}

impl Reservation<'_> {
    /// The message was committed: it counts.
    pub fn keep(mut self) {
        self.kept = true;
        let mut counts = self.usage.counts.lock();
        let count = counts.entry((self.account, self.month)).or_default();
        count.reserved = count.reserved.saturating_sub(1);
        count.committed += 1;
        count.dirty = true;
    }

    pub fn month(&self) -> Month {
        self.month
    }

    /// The threshold of the month's quota this message reaches when it is committed, if any.
    pub fn reaches(&self) -> Option<Reached> {
        self.reaches
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.kept
            && let Some(count) = self
                .usage
                .counts
                .lock()
                .get_mut(&(self.account, self.month))
        {
            count.reserved = count.reserved.saturating_sub(1);
            // Not committed: its email goes with the next message at or past the threshold.
            match self.reaches {
                Some(Reached::All) => count.all_claimed = false,
                Some(Reached::Most) => count.most_claimed = false,
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservation_counts_only_when_kept_and_thresholds_go_to_one_place_each() {
        let usage = Usage::default();
        let account = AccountId::from_operator(1);
        let month = Month::of(0);
        usage
            .counts
            .lock()
            .insert((account, month), Count::default());
        let place = |usage| {
            Usage::take_place(usage, account, month, Some(5))
                .expect("a place")
                .expect("the month in memory")
        };
        // A place taken and given back counts nothing, and its threshold goes to the next.
        let places: Vec<_> = (0..3).map(|_| place(&usage)).collect();
        assert_eq!(
            places.iter().map(|p| p.reaches()).collect::<Vec<_>>(),
            vec![None, None, None]
        );
        let fourth = place(&usage);
        assert_eq!(fourth.reaches(), Some(Reached::Most));
        drop(fourth);
        let fourth = place(&usage);
        assert_eq!(fourth.reaches(), Some(Reached::Most));
        let fifth = place(&usage);
        assert_eq!(fifth.reaches(), Some(Reached::All));
        assert!(usage.take_place(account, month, Some(5)).is_err());
        // A threshold's place given back after a later one was taken passes it to the next message.
        drop(fourth);
        let again = place(&usage);
        assert_eq!(again.reaches(), Some(Reached::Most));
        drop(fifth);
        let last = place(&usage);
        assert_eq!(last.reaches(), Some(Reached::All));
        let (fourth, fifth) = (again, last);
        for p in places {
            p.keep();
        }
        fourth.keep();
        fifth.keep();
        assert_eq!(usage.counts.lock()[&(account, month)].committed, 5);
        assert_eq!(usage.counts.lock()[&(account, month)].reserved, 0);
        let dirty = usage.take_dirty(0);
        assert_eq!(dirty.len(), 1);
        assert_eq!(dirty[0].2.messages, 5);
        assert!(usage.take_dirty(0).is_empty());
    }
}
