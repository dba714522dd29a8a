//! Template sync on a schedule: every active connection of every account (`services::templates` syncs one).

use crate::services::templates::sync_connection;
use crate::store::Db;
use crate::store::connections::{self, ConnectionInfo};
use serde_json::json;

pub const JOB: &str = "template_sync";

/// The scheduled run: every active connection of every account. One failing connection does not stop the others.
pub fn template_sync_job(db: &Db, agent: &ureq::Agent) -> anyhow::Result<serde_json::Value> {
    let all: Vec<ConnectionInfo> = db.read(|conn| {
        let mut all = Vec::new();
        for account in connections::accounts_with_active(conn)? {
            all.extend(connections::list_for_account(conn, account)?);
        }
        Ok(all)
    })?;
    let (mut synced, mut failed) = (0, 0);
    for connection in &all {
        match sync_connection(db, agent, connection.account_id, connection) {
            Ok(_) => synced += 1,
            Err(e) => {
                failed += 1;
                tracing::warn!(connection = connection.id.get(), error = %e, "template sync failed");
            }
        }
    }
    Ok(json!({ "connections_synced": synced, "connections_failed": failed }))
}
