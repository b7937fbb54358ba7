//! Thumbnails in `stowage-local`, the stand-in for the `make-thumbnails` function and
//! the bus rule that runs it: a reader of the store's change log makes the thumbnails of each
//! image whose content landed (a first upload or a re-upload), in the background, off the
//! request path. Its position in the log moves only past what is done, so
//! a restart loses nothing; a storage failure is retried with backoff.

use std::sync::Arc;
use std::time::Duration;

use stowage::store::embedded::SqliteStore;
use stowage::App;

/// The change-log reader that makes thumbnails.
pub const THUMBNAILS: &str = "thumbnails";
const LONGEST_RETRY: Duration = Duration::from_secs(30);

/// Starts the thumbnail maker.
pub fn spawn(app: Arc<App>, store: Arc<SqliteStore>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        crate::changelog::follow(&store, THUMBNAILS, |change| {
            let app = &app;
            async move {
                if let Some(record) = stowage::thumbnails::landed_image(&change) {
                    make(app, &record.tenant, record.id).await;
                }
            }
        })
        .await;
    })
}

/// Makes one file's thumbnails, retrying storage failures until they pass.
async fn make(app: &App, tenant: &stowage::model::TenantId, id: stowage::model::FileId) {
    let mut wait = Duration::from_millis(250);
    loop {
        match app.service.make_thumbnails(tenant, id).await {
            Ok(state) => {
                tracing::debug!(%tenant, %id, ?state, "thumbnails");
                return;
            }
            Err(err) => {
                tracing::warn!(%tenant, %id, error = ?err, "could not make thumbnails; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(LONGEST_RETRY);
            }
        }
    }
}
