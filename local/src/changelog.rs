//! Following the embedded store's change log as one named reader: the loop the webhook
//! deliverers and the thumbnail maker share. Each change is handed over in order and the
//! reader's position moves past it only once the handler is done with it, so a restart
//! resumes where the last run stopped and nothing is skipped.

use std::future::Future;
use std::time::Duration;

use stowage::store::embedded::SqliteStore;
use stowage::store::RecordChange;

/// How long an idle reader waits before looking again if no write wakes it first.
const IDLE: Duration = Duration::from_millis(200);
/// Changes read at a time.
const BATCH: usize = 100;
/// How long a reader waits after the log could not be read.
const UNREADABLE: Duration = Duration::from_secs(30);

/// Hands every change after `reader`'s position to `handle`, for ever; `handle` returns once it
/// is done with the change (it does its own retrying).
pub(crate) async fn follow<F, Fut>(store: &SqliteStore, reader: &str, mut handle: F)
where
    F: FnMut(RecordChange) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut written = store.watch_changes();
    loop {
        // Seen before the read: a write after it wakes the wait below.
        written.borrow_and_update();
        let changes = match store.unread_changes(reader, BATCH) {
            Ok(changes) => changes,
            Err(err) => {
                tracing::error!(%reader, error = ?err, "cannot read the change log; retrying");
                tokio::time::sleep(UNREADABLE).await;
                continue;
            }
        };
        if changes.is_empty() {
            tokio::select! {
                _ = written.changed() => {}
                _ = tokio::time::sleep(IDLE) => {}
            }
            continue;
        }
        for change in changes {
            let sequence_number = change.sequence_number.clone();
            handle(change).await;
            while let Err(err) = store.mark_read(reader, &sequence_number) {
                tracing::error!(%reader, error = ?err, "cannot record the reader's progress; retrying");
                tokio::time::sleep(IDLE).await;
            }
        }
    }
}
