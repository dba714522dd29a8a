//! A connection's message templates, as Meta lists them: synced on demand (the API) and on a schedule
//! (`jobs::templates`).

use crate::outbound::graph::Graph;
use crate::store::connections::{self, ConnectionInfo};
use crate::store::{AccountId, Db, templates};

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
