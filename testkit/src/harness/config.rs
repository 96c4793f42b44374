//! The three YAML files the harness writes, in exactly the production schema.

use std::net::IpAddr;
use std::path::Path;

use crate::Result;
use crate::fsutil::utf8;

/// Uid and gid the frontend runs as in tests and the demo (no passwd entry: nothing is added to the host).
pub const FRONTEND_ID: u32 = 61001;
/// Uid and gid the helper's broker drops to in tests and the demo.
pub const BROKER_ID: u32 = 61002;

/// Inputs of `helper.yaml`.
pub(super) struct HelperYaml<'a> {
    pub socket: &'a Path,
    pub package_root: &'a Path,
    /// The sandbox's `backend:` line and backend section ([`crate::sandbox::Sandbox::helper_yaml`]).
    pub backend: &'a str,
    /// The reboot recorder ([`reboot_recorder_script`]), so tests and the demo never reboot the host.
    pub reboot_command: &'a Path,
    /// `lock_timeout_seconds`.
    pub lock_timeout_seconds: u32,
}

/// Inputs of `config.yaml`.
pub(super) struct FrontendYaml<'a> {
    pub bind: IpAddr,
    pub port: u16,
    pub ca_cert: &'a Path,
    pub server_cert: &'a Path,
    pub server_key: &'a Path,
    pub crl: Option<&'a Path>,
    pub whitelist: &'a Path,
    pub helper_socket: &'a Path,
    pub state_dir: &'a Path,
    pub log_level: &'a str,
    pub jobs: super::options::JobSettings,
    pub max_connections: u32,
    pub request_timeout_seconds: u64,
    pub server_extra: &'a [String],
    pub extra: &'a str,
}

/// A YAML double-quoted scalar (JSON string syntax, which YAML accepts): paths may hold any character.
pub(crate) fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn path(p: &Path) -> Result<String> {
    Ok(quoted(utf8(p)?))
}

/// `helper.yaml`: numeric test ids, `allow_root_peer: true` so root test code can talk to the broker directly,
/// the sandbox as package root with its backend section (apt: its `apt.conf` as `APT_CONFIG`), and the reboot
/// recorder as reboot command.
pub(super) fn helper_yaml(c: &HelperYaml<'_>) -> Result<String> {
    Ok(format!(
        "# Written by lpa_testkit::harness.\n\
         socket:\n  path: {socket}\n\
         frontend_user: {FRONTEND_ID}\n\
         frontend_group: {FRONTEND_ID}\n\
         broker_user: {BROKER_ID}\n\
         broker_group: {BROKER_ID}\n\
         allow_root_peer: true\n\
         package_root: {root}\n\
         lock_timeout_seconds: {lock}\n\
         {backend}\
         reboot:\n  command: {reboot}\n",
        socket = path(c.socket)?,
        root = path(c.package_root)?,
        backend = c.backend,
        lock = c.lock_timeout_seconds,
        reboot = path(c.reboot_command)?,
    ))
}

/// The reboot recorder: a `shutdown` stand-in that appends its arguments, one request per line, to `log`.
/// The helper runs it as root and refuses one that is not root-owned or is writable by others, so the
/// harness writes it root-owned 0755.
pub(super) fn reboot_recorder_script(log: &Path) -> Result<String> {
    Ok(format!(
        "#!/bin/sh\n# Written by lpa_testkit::harness: records reboot requests instead of rebooting.\n\
         echo \"$@\" >> {}\n",
        shell_quoted(utf8(log)?)
    ))
}

/// A single-quoted shell word.
fn shell_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `config.yaml` of the frontend.
pub(super) fn frontend_yaml(c: &FrontendYaml<'_>) -> Result<String> {
    let crl = match c.crl {
        Some(p) => path(p)?,
        None => "null".to_owned(),
    };
    Ok(format!(
        "# Written by lpa_testkit::harness.\n\
         server:\n  bind: {bind}\n  port: {port}\n  max_connections: {max_connections}\n  handshake_timeout_seconds: 10\n  \
         request_timeout_seconds: {request_timeout}\n  max_body_bytes: 1048576\n{server_extra}\
         tls:\n  ca_cert: {ca}\n  server_cert: {cert}\n  server_key: {key}\n  crl_path: {crl}\n\
         whitelist:\n  path: {whitelist}\n\
         helper:\n  socket: {socket}\n  request_timeout_seconds: 120\n\
         state_dir: {state}\n\
         jobs: {{ max_concurrent: {max_concurrent}, timeout_minutes: 30,{timeout_seconds} max_queue_depth: {depth} }}\n\
         logging: {{ level: {level} }}\n\
         cache: {{ stale_after_hours: 4 }}\n{extra}",
        bind = quoted(&c.bind.to_string()),
        port = c.port,
        ca = path(c.ca_cert)?,
        cert = path(c.server_cert)?,
        key = path(c.server_key)?,
        whitelist = path(c.whitelist)?,
        socket = path(c.helper_socket)?,
        state = path(c.state_dir)?,
        level = quoted(c.log_level),
        max_connections = c.max_connections,
        request_timeout = c.request_timeout_seconds,
        server_extra = c
            .server_extra
            .iter()
            .map(|line| format!("  {line}\n"))
            .collect::<String>(),
        extra = c.extra,
        max_concurrent = c.jobs.max_concurrent,
        timeout_seconds = c
            .jobs
            .timeout_seconds
            .map(|s| format!(" timeout_seconds: {s},"))
            .unwrap_or_default(),
        depth = c.jobs.max_queue_depth,
    ))
}

/// `whitelist.yaml`.
pub(super) fn whitelist_yaml(entries: &[String]) -> String {
    let list: Vec<String> = entries.iter().map(|e| quoted(e)).collect();
    format!("allowed: [{}]\n", list.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_quotes_backslashes_and_controls() {
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quoted("x\ny"), r#""x\u000ay""#);
    }

    #[test]
    fn whitelist_lists_every_entry() {
        assert_eq!(
            whitelist_yaml(&["127.0.0.1".into(), "::1".into()]),
            "allowed: [\"127.0.0.1\", \"::1\"]\n"
        );
    }

    #[test]
    fn helper_yaml_uses_numeric_test_ids_and_root_peer() {
        let text = helper_yaml(&HelperYaml {
            socket: Path::new("/w/run/helper.sock"),
            package_root: Path::new("/w/sandbox/root"),
            backend: "backend: auto\napt:\n  config_file: \"/w/sandbox/apt.conf\"\n",
            reboot_command: Path::new("/w/reboot-recorder"),
            lock_timeout_seconds: 60,
        })
        .unwrap();
        assert!(text.contains("frontend_user: 61001\n"), "{text}");
        assert!(text.contains("broker_group: 61002\n"), "{text}");
        assert!(text.contains("allow_root_peer: true\n"), "{text}");
        assert!(
            text.contains("\nbackend: auto\napt:\n  config_file: \"/w/sandbox/apt.conf\"\nreboot:"),
            "{text}"
        );
        assert!(
            text.contains("reboot:\n  command: \"/w/reboot-recorder\"\n"),
            "{text}"
        );
    }

    #[test]
    fn reboot_recorder_appends_its_arguments_to_the_quoted_log() {
        let text = reboot_recorder_script(Path::new("/w/it's/reboot-requests.log")).unwrap();
        assert!(text.starts_with("#!/bin/sh\n"), "{text}");
        assert!(
            text.contains(r#"echo "$@" >> '/w/it'\''s/reboot-requests.log'"#),
            "{text}"
        );
    }
}
