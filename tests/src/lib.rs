#![forbid(unsafe_code)]
//! Shared helpers of the end-to-end tests: raw TLS and TCP probes that control every byte on the wire, and a
//! raw client of the helper socket. Everything that starts processes lives in the test kit (`lpa_testkit`);
//! what is here only talks to a running stack.

pub mod helper_socket;
pub mod jobs;
pub mod raw;
pub mod scenario;
pub mod scenario_dnf;
pub mod stack;
pub mod ws_raw;
