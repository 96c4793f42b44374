//! The root helper of linux-patch-api (binary `linux-patch-api-helper`).
//!
//! Two processes come out of one start, forked before any thread exists:
//! - the **launcher** ([`launcher`]) stays root, has no async runtime, reads typed
//!   [`lpa_protocol::launcher::Invocation`]s from a socketpair and runs them from a fixed command table
//!   ([`launcher::table`]) — the only code in the project that starts processes;
//! - the **broker** ([`broker`]) drops to its own unprivileged user ([`confine`]), serves the frontend on a
//!   Unix socket ([`socket`]) after an `SO_PEERCRED` check, validates every request, reads package
//!   databases directly ([`pkgdb`]) and turns command output into typed results ([`backend`], [`system`]).
//!
//! Supporting modules: [`config`] (`helper.yaml`), [`users`] (ids, and the refusal of dangerous ones),
//! [`detect`] (which backend), [`sys`] (the only module with `unsafe`: fork and descriptor hygiene).
//!
//! What this crate must never do: build an argv outside [`launcher::table`], run the broker as root or as
//! the frontend's user, or serve a peer other than the configured frontend uid.

pub mod backend;
pub mod broker;
pub mod config;
pub mod confine;
pub mod detect;
pub mod launcher;
pub mod pkgdb;
pub mod socket;
pub mod sys;
pub mod system;
pub mod users;
