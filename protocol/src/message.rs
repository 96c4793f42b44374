//! The frontend ⇄ broker conversation: a [`Hello`] handshake, then requests answered by id.
//!
//! The frontend opens a connection, sends [`ClientMessage::Hello`], waits for [`ServerMessage::HelloAck`]
//! (or [`ServerMessage::HelloRefused`], after which the broker closes), then sends any number of
//! [`ClientMessage::Request`]s. Responses carry the request's id, so a connection may be reused.

use crate::change::JobEvent;
use crate::grammar::Backend;
use crate::operation::Operation;
use crate::outcome::{HelperError, Outcome};
use serde::{Deserialize, Serialize};

/// Correlates a response with its request; chosen by the frontend, unique per connection.
pub type RequestId = u64;

/// The first message on every connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The sender's [`crate::PROTOCOL_VERSION`].
    pub protocol_version: u32,
    /// The sender's crate version, for diagnostics only.
    pub software_version: String,
}

impl Hello {
    /// The hello of this build.
    pub fn current() -> Self {
        Hello {
            protocol_version: crate::PROTOCOL_VERSION,
            software_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// The broker's answer to a compatible [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloAck {
    /// The broker's [`crate::PROTOCOL_VERSION`] (equal to the client's, or it would have refused).
    pub protocol_version: u32,
    /// The helper's crate version.
    pub software_version: String,
    /// The package manager this helper drives, so the frontend can apply the same name grammar.
    pub backend: Backend,
}

/// Frontend → broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ClientMessage {
    /// Must be first; anything else first closes the connection.
    Hello(Hello),
    /// One operation.
    Request {
        /// Echoed in the response.
        id: RequestId,
        /// What to do.
        operation: Operation,
    },
    /// Stop the package-changing request with this id if it has not started changing the system yet. The
    /// request then ends with a `Change` error of kind `Cancelled`; if it is too late, the broker answers
    /// [`ServerMessage::CancelRefused`] and the request runs to its end.
    Cancel {
        /// The request to cancel.
        id: RequestId,
    },
    /// Stop the request with this id even if it is changing the system (the job timed out): the package
    /// manager's process group gets SIGTERM, then SIGKILL after a grace period. The request ends with a
    /// `Change` error of kind `Timeout` whose `changes` say what the database shows was changed anyway.
    Abort {
        /// The request to stop.
        id: RequestId,
    },
}

/// Broker → frontend.
// Messages are built once per request and moved into an encoder; boxing would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ServerMessage {
    /// The handshake succeeded.
    HelloAck(HelloAck),
    /// The versions do not match; the broker closes the connection after sending this.
    HelloRefused {
        /// The broker's protocol version.
        protocol_version: u32,
        /// Human-readable reason.
        reason: String,
    },
    /// The result of [`ClientMessage::Request`] with the same id.
    Response {
        /// The request's id.
        id: RequestId,
        /// What happened.
        result: Result<Outcome, HelperError>,
    },
    /// Progress of the running request with this id; any number precede its `Response`.
    Event {
        /// The request's id.
        id: RequestId,
        /// What happened.
        event: JobEvent,
    },
    /// [`ClientMessage::Cancel`] came too late: the request has started changing the system.
    CancelRefused {
        /// The request's id.
        id: RequestId,
    },
}
