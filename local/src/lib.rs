//! `stowage-local`: the whole Stowage API on a laptop. The same route table and handlers as the
//! Lambda functions, a SQLite metadata store behind the same port as DynamoDB, and an embedded
//! S3-compatible endpoint (`s3s`) that checks presigned URLs and emits real S3 events.

pub mod auth;
mod changelog;
mod dispatch;
mod migrate;
mod objects;
pub mod realtime;
mod router;
pub mod s3;
pub mod server;
mod sweep;
pub mod thumbnails;
pub mod webhooks;

pub use dispatch::{CorsRules, Faults, API_CORS, BUCKET_CORS};
pub use server::{start, Backend, LocalConfig, RunningServer};
pub use sweep::REMOVALS;
pub use webhooks::Webhooks;

/// The one bucket of the embedded S3 endpoint (path-style: `/<bucket>/<key>`).
// Here rather than in `server`, so that `dispatch` need not import `server`, which imports it.
pub const BUCKET: &str = "stowage";
