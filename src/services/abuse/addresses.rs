//! The client addresses each API key was used from, per UTC day, kept in memory where the API key guard
//! sees the request: no row is written per request. Only today and yesterday are kept, and at most a
//! bounded number of addresses per key (enough to tell any threshold), so a key used from millions of
//! addresses costs no more than one used from a few thousand. A restart starts the day's count again.

use crate::store::api_keys::ApiKeyId;
use crate::store::{AccountId, rollups};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// Addresses kept per key and day; the abuse thresholds are at most this (see `config::Abuse`).
pub const KEPT_PER_KEY: usize = 20_000;

/// One key on one day: its account and the distinct addresses it came from.
struct Seen {
    account: AccountId,
    addresses: HashSet<IpAddr>,
}

#[derive(Default)]
pub struct KeyAddresses {
    days: Mutex<HashMap<(i64, ApiKeyId), Seen>>,
}

/// A key used from many addresses on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread {
    pub account: AccountId,
    pub key: ApiKeyId,
    pub addresses: usize,
}

impl KeyAddresses {
    /// Notes that `key` of `account` was used from `address` at `now`.
    pub fn seen(&self, account: AccountId, key: ApiKeyId, address: IpAddr, now: i64) {
        let day = rollups::day_of(now);
        let mut days = self.days.lock();
        if let Some(seen) = days.get_mut(&(day, key)) {
            if seen.addresses.len() < KEPT_PER_KEY {
                seen.addresses.insert(address.to_canonical());
            }
            return;
        }
        // A new key or a new day: what is older than yesterday goes.
        days.retain(|(d, _), _| *d >= day - 1);
        days.insert(
            (day, key),
            Seen {
                account,
                addresses: HashSet::from([address.to_canonical()]),
            },
        );
    }

    /// The keys used from `threshold` addresses or more on `day`, most addresses first.
    pub fn spread(&self, day: i64, threshold: usize) -> Vec<Spread> {
        let mut found: Vec<Spread> = self
            .days
            .lock()
            .iter()
            .filter(|((d, _), seen)| *d == day && seen.addresses.len() >= threshold)
            .map(|((_, key), seen)| Spread {
                account: seen.account,
                key: *key,
                addresses: seen.addresses.len(),
            })
            .collect();
        found.sort_by_key(|s| (std::cmp::Reverse(s.addresses), s.key.get()));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([203, 0, 113, n])
    }

    #[test]
    fn distinct_addresses_are_counted_per_key_and_day() {
        let seen = KeyAddresses::default();
        let (a, b) = (AccountId::from_operator(1), AccountId::from_operator(2));
        let (k1, k2) = (ApiKeyId::from_raw(10), ApiKeyId::from_raw(20));
        let today = 20_000 * DAY;
        for n in 0..5 {
            seen.seen(a, k1, ip(n), today + i64::from(n));
            seen.seen(a, k1, ip(n), today + 100);
        }
        // The same address written as IPv4 inside IPv6 is one address.
        seen.seen(a, k1, "::ffff:203.0.113.1".parse().unwrap(), today);
        seen.seen(b, k2, ip(1), today);
        seen.seen(b, k2, ip(2), today - DAY);
        assert_eq!(
            seen.spread(20_000, 5),
            vec![Spread {
                account: a,
                key: k1,
                addresses: 5
            }]
        );
        assert!(seen.spread(20_000, 6).is_empty());
        assert_eq!(seen.spread(19_999, 1)[0].key, k2);
        // Two days on, yesterday's are forgotten when a new day starts.
        seen.seen(b, k2, ip(3), today + 2 * DAY);
        assert!(seen.spread(19_999, 1).is_empty());
        assert_eq!(seen.spread(20_002, 1).len(), 1);
    }
}
