//! Facts about the host: os-release, kernel and uptime, reboot-required state, service status.

pub mod host;
pub mod os_release;
pub mod reboot;
pub mod service;
