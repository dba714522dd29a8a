//! Throttling of failed sign-ins, in memory.
//!
//! Three windows of 15 minutes: failures for one email from one address (5), failures from one address
//! for any email (30), and failures for one email from anywhere (100). The last one would let an attacker
//! lock the owner out by failing from many addresses, so it does not apply to addresses the account has
//! signed in from before.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

const WINDOW_MS: i64 = 15 * 60 * 1000;
const PER_EMAIL_AND_IP: usize = 5;
const PER_IP: usize = 30;
const PER_EMAIL: usize = 100;

#[derive(Default)]
pub struct LoginThrottle {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    pair: HashMap<(String, String), VecDeque<i64>>,
    ip: HashMap<String, VecDeque<i64>>,
    email: HashMap<String, VecDeque<i64>>,
    trusted: HashMap<String, HashSet<String>>,
    last_sweep: i64,
}

/// Seconds until the oldest failure in a full window expires, if the window is full.
fn blocked(failures: Option<&VecDeque<i64>>, limit: usize, now: i64) -> Option<u64> {
    let failures = failures?;
    let recent: Vec<i64> = failures
        .iter()
        .copied()
        .filter(|t| *t > now - WINDOW_MS)
        .collect();
    (recent.len() >= limit)
        .then(|| ((recent[recent.len() - limit] + WINDOW_MS - now) / 1000).max(1) as u64)
}

fn push<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, VecDeque<i64>>,
    key: K,
    now: i64,
    cap: usize,
) {
    let failures = map.entry(key).or_default();
    failures.push_back(now);
    while failures.len() > cap {
        failures.pop_front();
    }
}

impl LoginThrottle {
    /// `Err(seconds)` when this attempt must wait.
    pub fn check(&self, email: &str, ip: &str, now: i64) -> Result<(), u64> {
        let email = email.trim().to_lowercase();
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let trusted = state
            .trusted
            .get(&email)
            .is_some_and(|ips| ips.contains(ip));
        let waits = [
            blocked(
                state.pair.get(&(email.clone(), ip.to_owned())),
                PER_EMAIL_AND_IP,
                now,
            ),
            blocked(state.ip.get(ip), PER_IP, now),
            if trusted {
                None
            } else {
                blocked(state.email.get(&email), PER_EMAIL, now)
            },
        ];
        match waits.into_iter().flatten().max() {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    pub fn failure(&self, email: &str, ip: &str, now: i64) {
        let email = email.trim().to_lowercase();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        push(
            &mut state.pair,
            (email.clone(), ip.to_owned()),
            now,
            PER_EMAIL_AND_IP,
        );
        push(&mut state.ip, ip.to_owned(), now, PER_IP);
        push(&mut state.email, email, now, PER_EMAIL);
        if now - state.last_sweep > WINDOW_MS {
            // Forget windows that have emptied, so memory stays bounded by recent attackers.
            let fresh = |f: &mut VecDeque<i64>| f.back().is_some_and(|t| *t > now - WINDOW_MS);
            state.pair.retain(|_, f| fresh(f));
            state.ip.retain(|_, f| fresh(f));
            state.email.retain(|_, f| fresh(f));
            state.last_sweep = now;
        }
    }

    pub fn success(&self, email: &str, ip: &str) {
        let email = email.trim().to_lowercase();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.pair.remove(&(email.clone(), ip.to_owned()));
        state
            .trusted
            .entry(email)
            .or_default()
            .insert(ip.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_block_the_pair_but_not_the_owner_elsewhere() {
        let throttle = LoginThrottle::default();
        throttle.success("owner@shop.test", "10.0.0.1");
        for _ in 0..5 {
            assert!(
                throttle
                    .check("owner@shop.test", "198.51.100.7", 1000)
                    .is_ok()
            );
            throttle.failure("owner@shop.test", "198.51.100.7", 1000);
        }
        let wait = throttle
            .check("owner@shop.test", "198.51.100.7", 2000)
            .unwrap_err();
        assert!(wait > 800 && wait <= 900, "{wait}");
        assert!(throttle.check("owner@shop.test", "10.0.0.1", 2000).is_ok());
        assert!(
            throttle
                .check("owner@shop.test", "198.51.100.7", 1000 + WINDOW_MS + 1)
                .is_ok(),
            "window passed"
        );
    }

    #[test]
    fn a_distributed_attack_does_not_lock_out_known_addresses() {
        let throttle = LoginThrottle::default();
        throttle.success("owner@shop.test", "10.0.0.1");
        for n in 0..PER_EMAIL {
            throttle.failure("owner@shop.test", &format!("203.0.113.{n}"), 5000);
        }
        assert!(
            throttle
                .check("owner@shop.test", "203.0.113.250", 5000)
                .is_err(),
            "new addresses wait"
        );
        assert!(
            throttle.check("owner@shop.test", "10.0.0.1", 5000).is_ok(),
            "the owner's address does not"
        );
    }
}
