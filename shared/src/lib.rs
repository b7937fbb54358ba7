//! Stowage's common crate: the domain model and its rules, the service logic, the DynamoDB and S3
//! adapters behind their ports, and the HTTP and Lambda glue every function shares.

pub mod blob;
pub mod bootstrap;
pub mod config;
pub mod error;
pub mod events;
pub mod http;
pub mod identity;
pub mod keys;
pub mod model;
pub mod service;
pub mod store;
pub mod validate;

/// Everything a handler needs, built once per process.
pub struct App {
    pub service: service::Service,
    pub claims: identity::ClaimNames,
}
pub use lambda_http;
