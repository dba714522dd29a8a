//! Bounded fuzzing for the unit tests: what the cargo-fuzz targets (tests/fuzz) do at length, a few
//! thousand deterministic rounds on every build.

/// Calls `each` with `rounds` mutated copies of the seeds, taken in turn: up to three bytes replaced,
/// the copy cut short, or JSON punctuation and digits inserted. Deterministic (xorshift), so a failure
/// repeats.
pub(crate) fn mutations(seeds: &[&[u8]], rounds: usize, mut each: impl FnMut(usize, &[u8])) {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..rounds {
        let mut body = seeds[round % seeds.len()].to_vec();
        for _ in 0..(next() % 4) {
            if body.is_empty() {
                break;
            }
            let at = (next() as usize) % body.len();
            match next() % 3 {
                0 => body[at] = next() as u8,
                1 => body.truncate(at.max(1)),
                _ => body.insert(at, b"{}[],:\"0123456789"[(next() % 17) as usize]),
            }
        }
        each(round, &body);
    }
}
