//! Row ids chosen before the insert: milliseconds since the epoch in the high bits and 22 random bits,
//! so ids sort by creation time (cursor pagination) and a sealed value can be bound to its row id.

pub fn time_ordered() -> crate::error::Result<i64> {
    let random = u32::from_be_bytes(crate::crypto::random_bytes()?) & 0x3f_ffff;
    Ok((super::now_ms() << 22) | i64::from(random))
}
