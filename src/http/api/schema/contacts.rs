//! Answers of `/api/v1/contacts`.

use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// `POST /api/v1/contacts/erase`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactErased {
    /// Rows deleted, by table (tables with none are left out).
    pub deleted: BTreeMap<String, u64>,
    /// Always true.
    pub erased: bool,
    /// The customer's number, `+` and digits.
    pub phone: String,
}
