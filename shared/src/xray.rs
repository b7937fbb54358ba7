//! Traces: AWS X-Ray subsegments for a function's own work and for every AWS call it
//! makes, sent to the X-Ray daemon that Lambda runs beside a function with active tracing.
//!
//! Lambda makes the trace and the function's segment (`AWS::Lambda::Function`, with its
//! `Initialization`, `Invocation` and `Overhead` subsegments) itself and hands each invocation
//! the trace header (`Root=…;Parent=…;Sampled=1`). What Lambda cannot see is inside the
//! invocation: this module adds one subsegment for the handler (a route's `GET /files/{id}`,
//! or the event function's name), parented to the function segment, and one per AWS call
//! (`DynamoDB`, `S3`, `EventBridge`: operation, table, HTTP status, retries, request id, error
//! or throttle), parented to the handler's, through an SDK interceptor on the function's
//! clients. Each subsegment is one UDP datagram to `AWS_XRAY_DAEMON_ADDRESS`, written when it
//! ends (no buffering, nothing to flush before the sandbox freezes); a send that fails is
//! dropped. Without the daemon address (tracing off, `stowage-local`, the tests' own apps) or
//! for an unsampled invocation nothing is sent. No X-Ray SDK exists for Rust; the documents
//! follow X-Ray's segment document format.

use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// The daemon's address from `AWS_XRAY_DAEMON_ADDRESS` (`host:port`, or Lambda's
/// `tcp:host:port udp:host:port` form, of which the UDP one).
pub fn daemon_address(value: &str) -> Option<SocketAddr> {
    let udp = value
        .split_whitespace()
        .find_map(|part| part.strip_prefix("udp:"))
        .unwrap_or(value.trim());
    udp.parse().ok()
}

/// Sends a function's subsegments to the X-Ray daemon, and knows the invocation being traced.
#[derive(Debug)]
pub struct Tracer {
    socket: UdpSocket,
    daemon: SocketAddr,
    current: Mutex<Option<Current>>,
}

/// The invocation being traced: its trace, and the handler subsegment AWS calls hang under.
#[derive(Clone, Debug)]
struct Current {
    trace_id: String,
    handler_id: String,
}

impl Tracer {
    /// A tracer sending to the daemon at `AWS_XRAY_DAEMON_ADDRESS`, if that is set (Lambda
    /// sets it when the function's tracing is active).
    pub fn from_env() -> Option<Arc<Tracer>> {
        let value = std::env::var("AWS_XRAY_DAEMON_ADDRESS").ok()?;
        match daemon_address(&value) {
            Some(daemon) => Tracer::to(daemon),
            None => {
                tracing::warn!(%value, "AWS_XRAY_DAEMON_ADDRESS is not host:port; no traces");
                None
            }
        }
    }

    /// A tracer sending to `daemon`.
    pub fn to(daemon: SocketAddr) -> Option<Arc<Tracer>> {
        let bind = if daemon.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = UdpSocket::bind(bind)
            .inspect_err(|err| tracing::warn!(error = %err, "no UDP socket for X-Ray; no traces"))
            .ok()?;
        // A send must never hold a request up.
        socket.set_nonblocking(true).ok()?;
        Some(Arc::new(Tracer {
            socket,
            daemon,
            current: Mutex::new(None),
        }))
    }

    /// The SDK interceptor that adds a subsegment for each AWS call of the invocation.
    pub fn interceptor(self: &Arc<Self>) -> AwsCalls {
        AwsCalls {
            tracer: self.clone(),
        }
    }

    /// Starts tracing an invocation whose trace header (`Lambda-Runtime-Trace-Id`) is
    /// `header`, under a handler subsegment named `name`; nothing is traced when the header is
    /// missing or unsampled.
    pub fn begin(self: &Arc<Self>, header: Option<&str>, name: &str) -> Span {
        let Some((trace_id, parent_id)) = header.and_then(sampled_trace) else {
            return Span { open: None };
        };
        let handler_id = new_id();
        if let Ok(mut current) = self.current.lock() {
            *current = Some(Current {
                trace_id: trace_id.clone(),
                handler_id: handler_id.clone(),
            });
        }
        Span {
            open: Some(OpenSpan {
                tracer: self.clone(),
                name: name.to_owned(),
                trace_id,
                parent_id,
                id: handler_id,
                start: now(),
            }),
        }
    }

    fn current(&self) -> Option<Current> {
        self.current.lock().ok().and_then(|c| c.clone())
    }

    fn send(&self, document: &serde_json::Value) {
        let datagram = format!("{{\"format\": \"json\", \"version\": 1}}\n{document}");
        if let Err(err) = self.socket.send_to(datagram.as_bytes(), self.daemon) {
            tracing::debug!(error = %err, "an X-Ray subsegment was not sent");
        }
    }
}

/// The trace id and parent id of a sampled trace header, else `None`.
fn sampled_trace(header: &str) -> Option<(String, String)> {
    let (mut root, mut parent, mut sampled) = (None, None, false);
    for field in header.split(';') {
        match field.trim().split_once('=') {
            Some(("Root", value)) => root = Some(value.to_owned()),
            Some(("Parent", value)) => parent = Some(value.to_owned()),
            Some(("Sampled", value)) => sampled = value == "1",
            _ => {}
        }
    }
    if !sampled {
        return None;
    }
    Some((root?, parent?))
}

/// A handler's subsegment while it runs ([`Tracer::begin`]); [`Span::end`] sends it.
#[must_use = "a span is sent when it ends"]
pub struct Span {
    open: Option<OpenSpan>,
}

struct OpenSpan {
    tracer: Arc<Tracer>,
    name: String,
    trace_id: String,
    parent_id: String,
    id: String,
    start: f64,
}

/// How a handler's work ended, for its subsegment.
#[derive(Clone, Copy, Debug)]
pub enum Outcome {
    /// An HTTP answer with this status (`4xx` marks an error, `5xx` a fault, `429` a throttle).
    Status(u16),
    /// An event function's result.
    Event { failed: bool },
}

impl Span {
    /// Sends the handler's subsegment and ends the invocation's tracing.
    pub fn end(self, outcome: Outcome) {
        let Some(open) = self.open else { return };
        if let Ok(mut current) = open.tracer.current.lock() {
            *current = None;
        }
        let mut document = serde_json::json!({
            "name": open.name,
            "id": open.id,
            "trace_id": open.trace_id,
            "parent_id": open.parent_id,
            "type": "subsegment",
            "start_time": open.start,
            "end_time": now(),
        });
        match outcome {
            Outcome::Status(status) => {
                document["http"] = serde_json::json!({"response": {"status": status}});
                flag_status(&mut document, status);
            }
            Outcome::Event { failed } => {
                if failed {
                    document["fault"] = true.into();
                }
            }
        }
        open.tracer.send(&document);
    }
}

/// X-Ray's error flags for an HTTP status.
fn flag_status(document: &mut serde_json::Value, status: u16) {
    match status {
        429 => {
            document["error"] = true.into();
            document["throttle"] = true.into();
        }
        400..=499 => document["error"] = true.into(),
        500.. => document["fault"] = true.into(),
        _ => {}
    }
}

/// Adds a subsegment for each AWS call made during a traced invocation
/// ([`Tracer::interceptor`]).
#[derive(Debug)]
pub struct AwsCalls {
    tracer: Arc<Tracer>,
}

/// When a call started, and how many attempts it made.
#[derive(Clone, Debug)]
struct CallStarted {
    at: f64,
    attempts: u32,
}

impl Storable for CallStarted {
    type Storer = StoreReplace<Self>;
}

impl Intercept for AwsCalls {
    fn name(&self) -> &'static str {
        "XRaySubsegments"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(CallStarted {
            at: now(),
            attempts: 0,
        });
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(started) = cfg.load::<CallStarted>().cloned() {
            cfg.interceptor_state().store_put(CallStarted {
                attempts: started.attempts + 1,
                ..started
            });
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(current) = self.tracer.current() else {
            return Ok(());
        };
        let Some(started) = cfg.load::<CallStarted>() else {
            return Ok(());
        };
        // A presigned request is made, never sent: no answer and no failure, no call to show.
        let failed = context.output_or_error().is_some_and(|o| o.is_err());
        if context.response().is_none() && !failed {
            return Ok(());
        }
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_owned(), m.name().to_owned()))
            .unwrap_or_default();
        let mut aws = serde_json::json!({
            "operation": operation,
            "retries": started.attempts.saturating_sub(1),
        });
        let mut document = serde_json::json!({
            "name": subsegment_name(&service),
            "id": new_id(),
            "trace_id": current.trace_id,
            "parent_id": current.handler_id,
            "type": "subsegment",
            "namespace": "aws",
            "start_time": started.at,
            "end_time": now(),
        });
        if let Some(response) = context.response() {
            let status = response.status().as_u16();
            document["http"] = serde_json::json!({"response": {"status": status}});
            flag_status(&mut document, status);
            let headers = response.headers();
            if let Some(id) = headers
                .get("x-amzn-requestid")
                .or_else(|| headers.get("x-amz-request-id"))
            {
                aws["request_id"] = id.into();
            }
        } else {
            // No answer at all: a connection failure or a timeout.
            document["fault"] = true.into();
        }
        document["aws"] = aws;
        self.tracer.send(&document);
        Ok(())
    }
}

/// The subsegment name X-Ray's own SDKs give a service's calls (the service map shows them).
fn subsegment_name(service: &str) -> String {
    match service.to_ascii_lowercase().as_str() {
        "dynamodb" => "DynamoDB".to_owned(),
        "s3" => "S3".to_owned(),
        "eventbridge" => "EventBridge".to_owned(),
        _ => service.to_owned(),
    }
}

/// Seconds since the epoch, as X-Ray's documents give times.
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// A new 64-bit segment id, in 16 hex digits.
fn new_id() -> String {
    format!("{:016x}", ulid::Ulid::new().random() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemon_address_is_read_in_both_forms() {
        assert_eq!(
            daemon_address("169.254.79.129:2000"),
            Some("169.254.79.129:2000".parse().unwrap())
        );
        assert_eq!(
            daemon_address("tcp:127.0.0.1:2000 udp:127.0.0.2:2001"),
            Some("127.0.0.2:2001".parse().unwrap())
        );
        assert_eq!(daemon_address("nowhere"), None);
    }

    #[test]
    fn only_sampled_headers_are_traced() {
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        assert_eq!(
            sampled_trace(header),
            Some((
                "1-5759e988-bd862e3fe1be46a994272793".to_owned(),
                "53995c3f42cd8ad8".to_owned()
            ))
        );
        assert_eq!(
            sampled_trace(&header.replace("Sampled=1", "Sampled=0")),
            None
        );
        assert_eq!(
            sampled_trace("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
            None
        );
        assert_eq!(sampled_trace(""), None);
    }

    #[test]
    fn ids_are_sixteen_hex_digits() {
        for _ in 0..100 {
            let id = new_id();
            assert_eq!(id.len(), 16, "{id}");
            assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        }
    }
}
