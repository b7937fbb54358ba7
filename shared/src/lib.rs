//! Stowage's common crate: the domain model and its rules, the service logic, the DynamoDB and S3
//! adapters behind their ports, and the HTTP and Lambda glue every function shares.
//!
//! Layers, outside in: `http` and `events` (the entry points) parse requests into the typed
//! commands of `validate` and call the `service`, which works on the `model` through two ports,
//! `store::MetadataStore` and `blob::ObjectStore`; the adapters (`store::dynamodb`,
//! `store::embedded`, `blob::s3`) keep their storage layouts to themselves. `bootstrap` builds
//! everything once per process.
//!
//! Visibility: `pub(crate)` unless another crate of the workspace (the functions,
//! `stowage-local`, the console, the CLI, the tests, the examples) uses the item, or a public
//! item's signature names it; `unreachable_pub` holds items of private modules to that.
#![warn(unreachable_pub)]

pub mod blob;
pub mod bootstrap;
pub mod config;
pub mod error;
pub mod events;
pub mod http;
pub mod identity;
pub mod keys;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod realtime;
pub mod service;
pub mod store;
pub mod thumbnails;
pub mod validate;
pub mod wire;
pub mod xray;

use std::sync::Arc;

use blob::ObjectStore;
use config::Config;
use service::{Clock, Service, Settings};
use store::MetadataStore;

/// Everything a handler needs, built once per process.
pub struct App<M: ?Sized = dyn MetadataStore, O: ?Sized = dyn ObjectStore> {
    pub service: Service<M, O>,
    pub claims: identity::ClaimNames,
    /// Whether a token must carry the scope of the route it calls.
    pub require_scopes: bool,
}

impl<M: MetadataStore + ?Sized, O: ObjectStore + ?Sized> App<M, O> {
    /// The app over the given ports, configured by `config`: the one builder that the Lambda
    /// bootstrap, `stowage-local` and the tests share.
    pub fn new(config: &Config, store: Arc<M>, objects: Arc<O>, clock: Arc<dyn Clock>) -> Self {
        App {
            service: Service::new(store, objects, clock, Settings::from(config)),
            claims: config.claims.clone(),
            require_scopes: config.require_scopes,
        }
    }
}

pub use lambda_http;
