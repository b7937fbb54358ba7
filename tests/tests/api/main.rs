//! One integration binary (zero2prod style): every module gets a fresh table and bucket per
//! test on the moto server that `scripts/test` starts.

mod browser;
mod build_settings;
mod bulk;
mod collections;
mod console;
mod content;
mod copy;
mod deletes;
mod events;
mod failures;
mod handlers;
mod hostile;
mod isolation;
mod lambda_config;
mod least_privilege;
mod lifecycle;
mod listing;
mod local_over_aws;
mod many;
mod multipart;
mod openapi;
mod principals;
mod public;
mod realtime_publish;
mod scopes;
mod store_contract;
mod template;
mod thumbnails;
mod traces;
mod trash;
mod trust;
mod updates;
mod upload_flow;
