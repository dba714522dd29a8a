//! Finishing account deletions (`store::erasure`): the one an owner starts on the web runs on a blocking
//! thread, and one cut off by a stop (of the server, or of `whatsapi account delete`) is finished when the
//! server starts again, so no stopped account is left half deleted.

use crate::domain::lang::Lang;
use crate::error::Result;
use crate::outbound::mail::Mailer;
use crate::services::notify;
use crate::store::{AccountId, Db, erasure};

/// Deletes every row of a stopped account and tells its owner (blocking).
pub fn finish(db: &Db, mailer: &Mailer, account: AccountId) -> Result<()> {
    let (deleted, batches) =
        erasure::finish_deletion(db, account, &mut |_, _| {}, |to| confirm(mailer, to))?;
    tracing::info!(
        account = account.get(),
        rows = deleted.total(),
        batches,
        "account deleted"
    );
    Ok(())
}

/// Tells the owner that the account was deleted, in their language.
pub fn confirm(mailer: &Mailer, to: &erasure::Confirmation) {
    let lang = Lang::from_code(&to.locale).unwrap_or(Lang::En);
    notify::account_deleted_blocking(mailer, lang, &to.email, &to.company);
}

/// Finishes, on a thread of its own, the deletions a stop cut off.
pub fn resume(db: Db, mailer: Mailer) {
    let unfinished = match db.read(erasure::unfinished) {
        Ok(unfinished) if unfinished.is_empty() => return,
        Ok(unfinished) => unfinished,
        Err(e) => {
            return tracing::error!(error = %e, "cannot read the account deletions under way");
        }
    };
    let started = std::thread::Builder::new()
        .name("deletions".into())
        .spawn(move || {
            for account in unfinished {
                tracing::info!(
                    account = account.get(),
                    "finishing the deletion of an account that a stop cut off"
                );
                if let Err(e) = finish(&db, &mailer, account) {
                    tracing::error!(account = account.get(), error = %e, "cannot finish deleting an account");
                }
            }
        });
    if let Err(e) = started {
        tracing::error!(error = %e, "cannot start the thread that finishes account deletions");
    }
}
