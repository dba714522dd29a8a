//! Row ids chosen before the insert: milliseconds since the epoch in the high bits and 22 random bits,
//! so ids sort by creation time (cursor pagination) and a sealed value can be bound to its row id.
//!
//! Within the process, each id is also greater than the one before: with only random low bits, ids made
//! in the same millisecond collide (at 5,000 a second, about once a minute), and the insert that drew the
//! taken id would fail. The random bits keep ids of other processes (the command line) apart.

use std::sync::atomic::{AtomicI64, Ordering};

static LAST: AtomicI64 = AtomicI64::new(0);

pub fn time_ordered() -> crate::error::Result<i64> {
    let random = u32::from_be_bytes(crate::crypto::random_bytes()?) & 0x3f_ffff;
    let drawn = (super::now_ms() << 22) | i64::from(random);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let id = drawn.max(last + 1);
        match LAST.compare_exchange_weak(last, id, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return Ok(id),
            Err(seen) => last = seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::time_ordered;

    #[test]
    fn ids_made_at_once_by_many_threads_are_all_different_and_keep_time_order() {
        let started = super::super::now_ms();
        let ids: Vec<i64> = std::thread::scope(|scope| {
            let makers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        (0..50_000)
                            .map(|_| time_ordered().unwrap())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            makers.into_iter().flat_map(|m| m.join().unwrap()).collect()
        });
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        assert!(ids.iter().all(|id| id >> 22 >= started));
    }
}
