#![forbid(unsafe_code)]
//! The linux-patch-api network daemon (`linux-patch-api`).
//!
//! Accepts TCP connections, drops peers outside the IP whitelist before a single byte is sent, terminates
//! TLS 1.3 with mandatory client certificates, and serves the REST API by forwarding typed operations to the
//! root helper over its Unix socket. It runs as an unprivileged user and refuses to start as root.
//!
//! Module map:
//! - [`config`]: `config.yaml` and `whitelist.yaml`, validated with file/line/key errors.
//! - [`whitelist`]: the peer-address check that runs before TLS.
//! - [`tls`]: the rustls server configuration (TLS 1.3 only, client certificates, CRL).
//! - [`identity`]: client identity from the verified certificate.
//! - [`listener`]: accept loop, connection cap, handshake timeout, hyper connection setup.
//! - [`conn`]: per-connection facts handed to requests.
//! - [`http`]: router, envelope, errors, limits, request ids.
//! - [`api`]: one module per resource.
//! - [`reload`]: hot reload of whitelist and TLS files, live connections by client serial.
//! - [`helper_client`]: the connection to the helper's broker.
//!
//! What this crate must never do: run as root, spawn a process, or trust a forwarded-for header.

pub mod api;
pub mod config;
pub mod conn;
pub mod helper_client;
pub mod http;
pub mod identity;
pub mod jobs;
pub mod listener;
pub mod notify;
pub mod private_state;
pub mod reload;
pub mod tls;
pub mod whitelist;
