//! API requests per minute per account: a token bucket that holds a minute's requests and refills
//! continuously, so a client may burst up to its limit and then goes at the plan's pace. In memory only:
//! after a restart every bucket starts full.

use crate::store::AccountId;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Instant;

/// What the bucket said to one request, for its answer's `RateLimit` headers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateDecision {
    pub allowed: bool,
    /// Requests per minute.
    pub limit: u32,
    /// Requests that may follow at once.
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
    /// Seconds until one more request is allowed (0 when one is).
    pub retry_after_secs: u64,
}

struct Bucket {
    tokens: f64,
    at: Instant,
    limit: u32,
}

#[derive(Default)]
pub struct RateLimits {
    buckets: Mutex<HashMap<AccountId, Bucket>>,
}

impl RateLimits {
    /// Takes one request from the account's bucket of `per_minute`.
    pub fn take(&self, account: AccountId, per_minute: u32) -> RateDecision {
        self.take_at(account, per_minute, Instant::now())
    }

    fn take_at(&self, account: AccountId, per_minute: u32, now: Instant) -> RateDecision {
        let capacity = f64::from(per_minute.max(1));
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock();
        if buckets.len() > 100_000 {
            // Full buckets carry nothing a new one would not.
            buckets.retain(|_, b| {
                let refill = f64::from(b.limit) / 60.0;
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * refill
                    < f64::from(b.limit)
            });
        }
        let bucket = buckets.entry(account).or_insert(Bucket {
            tokens: capacity,
            at: now,
            limit: per_minute,
        });
        if bucket.limit != per_minute {
            // The plan changed: the new size, keeping what was used.
            bucket.tokens = bucket.tokens.min(capacity);
            bucket.limit = per_minute;
        }
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.at = now;
        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= 1.0;
        }
        let missing_for_one = (1.0 - bucket.tokens).max(0.0);
        RateDecision {
            allowed,
            limit: per_minute,
            remaining: bucket.tokens.floor() as u32,
            reset_secs: ((capacity - bucket.tokens) / per_second).ceil() as u64,
            retry_after_secs: (missing_for_one / per_second).ceil() as u64,
        }
    }
}

impl RateDecision {
    /// `RateLimit-Policy` (IETF httpapi draft): the plan's quota per window of 60 seconds.
    pub fn policy_header(&self) -> String {
        format!("\"plan\";q={};w=60", self.limit)
    }

    /// `RateLimit`: what remains and when the quota is whole again.
    pub fn header(&self) -> String {
        format!("\"plan\";r={};t={}", self.remaining, self.reset_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_full_bucket_allows_a_burst_of_the_limit_then_refills_at_the_plans_pace() {
        let limits = RateLimits::default();
        let (a, b) = (AccountId::from_operator(1), AccountId::from_operator(2));
        let start = Instant::now();
        for n in 0..60 {
            let d = limits.take_at(a, 60, start);
            assert!(d.allowed, "request {n}");
            assert_eq!(d.remaining, 59 - n);
        }
        let refused = limits.take_at(a, 60, start);
        assert!(!refused.allowed);
        assert_eq!((refused.remaining, refused.retry_after_secs), (0, 1));
        assert_eq!(refused.reset_secs, 60);
        // Another account has its own bucket.
        assert!(limits.take_at(b, 60, start).allowed);
        // One request a second comes back.
        let later = limits.take_at(a, 60, start + Duration::from_millis(1_001));
        assert!(later.allowed);
        assert!(
            !limits
                .take_at(a, 60, start + Duration::from_millis(1_002))
                .allowed
        );
        assert_eq!(later.header(), "\"plan\";r=0;t=60");
        assert_eq!(later.policy_header(), "\"plan\";q=60;w=60");
    }
}
