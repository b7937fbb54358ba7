//! One integration binary (zero2prod style): every module gets a fresh table and bucket per
//! test on the moto server that `scripts/test` starts.

mod file_api;
mod handlers;
mod hostile;
mod local_over_aws;
mod multipart;
mod openapi;
mod store_contract;
mod template;
mod upload_flow;
