//! Template sync: on demand for one connection, and on a schedule for all of them.

use crate::outbound::graph::Graph;
use crate::store::connections::{self, ConnectionInfo};
use crate::store::{AccountId, Db, templates};
use serde_json::json;

pub const JOB: &str = "template_sync";

/// Fetches the connection's templates from Meta and stores them; how many there are.
pub fn sync_connection(
    db: &Db,
    agent: &ureq::Agent,
    account: AccountId,
    connection: &ConnectionInfo,
) -> crate::error::Result<usize> {
    let id = connection.id;
    let token =
        db.read(|conn| Ok(connections::secrets(conn, db.keyring(), account, id)?.access_token))?;
    let listed = Graph::of(agent, connection, &token)
        .templates(&connection.waba_id)
        .map_err(|e| e.unavailable("the template list"))?;
    db.write(move |conn| templates::replace_for_connection(conn, account, id, &listed))
}

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
