//! The local stand-ins for DynamoDB TTL and the `on-records-removed` stream function: expire
//! records whose time has come, then clean up after every removal in the store's change log
//! (expired or deleted through the API) with the same code the stream function runs. The
//! cleanup's position in the log moves only past what succeeded, so bytes whose deletion failed
//! are retried on the next sweep, also after a restart.

use stowage::events::clean_up_removed;
use stowage::store::embedded::SqliteStore;
use stowage::App;

/// The change-log reader that cleans up after removed records.
pub const REMOVALS: &str = "removals";
/// Records expired, and changes read, per store call.
const BATCH: usize = 100;

/// One sweep; returns how many records expired.
pub async fn sweep(app: &App, store: &SqliteStore) -> usize {
    let mut expired = 0;
    loop {
        match store.expire(app.service.now(), BATCH) {
            Ok(n) => {
                expired += n;
                if n < BATCH {
                    break;
                }
            }
            Err(err) => {
                tracing::error!(error = ?err, "expiry sweep failed");
                break;
            }
        }
    }
    if let Err(err) = clean_up(app, store).await {
        tracing::error!(error = ?err, "removal cleanup failed; the next sweep retries");
    }
    expired
}

/// Runs the cleanup over the unread part of the change log, up to the first failure.
async fn clean_up(app: &App, store: &SqliteStore) -> Result<(), stowage::store::StoreError> {
    loop {
        let changes = store.unread_changes(REMOVALS, BATCH)?;
        let Some(last) = changes.last().map(|c| c.sequence_number.clone()) else {
            return Ok(());
        };
        let failed = clean_up_removed(app, changes.iter().cloned().map(Ok)).await;
        let Some(first_failed) = failed.first() else {
            store.mark_read(REMOVALS, &last)?;
            continue;
        };
        let handled = changes
            .iter()
            .take_while(|c| &c.sequence_number != first_failed)
            .last();
        if let Some(handled) = handled {
            store.mark_read(REMOVALS, &handled.sequence_number)?;
        }
        return Ok(());
    }
}
