//! Tests of config.yaml parsing and validation.

use super::*;
use std::fs;
use tempfile::TempDir;

/// A directory with (empty) certificate files, so file checks pass, and the `tls:` section naming them.
fn cert_dir() -> (TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    for name in ["ca.pem", "server.pem", "server.key"] {
        fs::write(dir.path().join(name), b"").unwrap();
    }
    let d = dir.path().display();
    let tls = format!(
        "tls:\n  ca_cert: {d}/ca.pem\n  server_cert: {d}/server.pem\n  server_key: {d}/server.key\n"
    );
    (dir, tls)
}

fn parse_text(text: &str) -> Result<LoadedConfig, ConfigError> {
    parse(Path::new("/etc/lpa/config.yaml"), text)
}

fn only_issue(err: ConfigError) -> Issue {
    match err {
        ConfigError::Invalid { mut issues, .. } if issues.len() == 1 => issues.remove(0),
        ConfigError::Syntax { issue, .. } => issue,
        other => panic!("expected one issue, got {other}"),
    }
}

#[test]
fn defaults_are_the_documented_values() {
    let c = Config::default();
    assert_eq!(c.server.socket_addr(), "0.0.0.0:12443".parse().unwrap());
    assert_eq!(c.server.max_connections, 512);
    assert_eq!(c.server.handshake_timeout_seconds, 10);
    assert_eq!(c.server.request_timeout_seconds, 30);
    assert_eq!(c.server.max_body_bytes, 1_048_576);
    assert_eq!(
        c.tls.ca_cert,
        Path::new("/etc/linux_patch_api/certs/ca.pem")
    );
    assert_eq!(c.tls.crl_path, None);
    assert_eq!(c.tls.crl_expired, CrlExpired::Refuse);
    assert_eq!(
        c.whitelist.path,
        Path::new("/etc/linux_patch_api/whitelist.yaml")
    );
    assert_eq!(
        c.helper.socket,
        Path::new("/run/linux-patch-api/helper.sock")
    );
    assert_eq!(c.helper.request_timeout_seconds, 120);
    assert_eq!(c.state_dir, Path::new("/var/lib/linux_patch_api"));
    assert_eq!(
        (
            c.jobs.max_concurrent,
            c.jobs.timeout_minutes,
            c.jobs.max_queue_depth
        ),
        (5, 30, 100)
    );
    assert_eq!(c.logging.level, "info");
    assert_eq!(c.cache.stale_after_hours, 4);
}

#[test]
fn file_with_only_tls_section_fills_in_defaults() {
    let (_dir, tls) = cert_dir();
    let loaded = parse_text(&tls).unwrap();
    assert_eq!(loaded.config.server, ServerSection::default());
    assert!(loaded.unknown_keys.is_empty());
}

#[test]
fn full_example_config_has_no_unknown_keys() {
    let (_dir, tls) = cert_dir();
    let text = format!(
        "server:\n  bind: \"::\"\n  port: 8443\n  max_connections: 3\n  handshake_timeout_seconds: 2\n  \
         request_timeout_seconds: 4\n  max_body_bytes: 100\n{tls}  crl_path: null\nwhitelist:\n  path: /w.yaml\n\
         helper:\n  socket: /s.sock\n  request_timeout_seconds: 9\nstate_dir: /state\n\
         jobs: {{ max_concurrent: 1, timeout_minutes: 2, max_queue_depth: 3 }}\nlogging: {{ level: debug }}\n\
         cache: {{ stale_after_hours: 8 }}\n"
    );
    let loaded = parse_text(&text).unwrap();
    assert_eq!(loaded.unknown_keys, vec![]);
    let c = loaded.config;
    assert_eq!(c.server.socket_addr(), "[::]:8443".parse().unwrap());
    assert_eq!(c.server.max_body_bytes, 100);
    assert_eq!(c.helper.socket, Path::new("/s.sock"));
    assert_eq!(c.jobs.max_queue_depth, 3);
    assert_eq!(c.logging.level, "debug");
    assert_eq!(c.cache.stale_after_hours, 8);
}

#[test]
fn port_zero_is_an_error_naming_file_line_and_key() {
    let (_dir, tls) = cert_dir();
    let err = parse_text(&format!("# header\nserver:\n  port: 0\n{tls}")).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("/etc/lpa/config.yaml"), "{text}");
    let issue = only_issue(err);
    assert_eq!((issue.key.as_str(), issue.line), ("server.port", Some(3)));
}

#[test]
fn zero_body_limit_is_an_error_naming_line_and_key() {
    let (_dir, tls) = cert_dir();
    let issue =
        only_issue(parse_text(&format!("{tls}server:\n  max_body_bytes: 0\n")).unwrap_err());
    assert_eq!(
        (issue.key.as_str(), issue.line),
        ("server.max_body_bytes", Some(6))
    );
}

#[test]
fn bad_bind_address_is_an_error_naming_line_and_key() {
    let (_dir, tls) = cert_dir();
    let err = parse_text(&format!("server:\n  port: 1\n  bind: not-an-ip\n{tls}")).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("/etc/lpa/config.yaml") && text.contains("line 3"),
        "{text}"
    );
    let issue = only_issue(err);
    assert_eq!((issue.key.as_str(), issue.line), ("server.bind", Some(3)));
}

#[test]
fn out_of_range_port_is_an_error_naming_line_and_key() {
    let (_dir, tls) = cert_dir();
    let issue = only_issue(parse_text(&format!("{tls}server:\n  port: 70000\n")).unwrap_err());
    assert_eq!((issue.key.as_str(), issue.line), ("server.port", Some(6)));
}

#[test]
fn missing_certificate_file_names_key_line_and_path() {
    let (dir, tls) = cert_dir();
    fs::remove_file(dir.path().join("server.key")).unwrap();
    // A missing TLS file is the one-line "no server certificate" error (issue 10), not an issue list.
    let err = parse_text(&tls).unwrap_err();
    let text = err.to_string();
    let ConfigError::MissingCertificate {
        key, line, file, ..
    } = err
    else {
        panic!("expected MissingCertificate, got {text}")
    };
    assert_eq!((key, line), ("tls.server_key", Some(4)));
    assert_eq!(file, dir.path().join("server.key"));
    assert!(!text.contains('\n'), "{text}");
    assert!(text.contains("line 4 of /etc/lpa/config.yaml"), "{text}");
    assert!(text.contains("linux-patch-ctl pki issue server"), "{text}");
}

#[test]
fn missing_default_certificate_says_the_default_is_used() {
    let text = "server:\n  port: 1\n";
    let err = parse_text(text).unwrap_err();
    let text = err.to_string();
    let ConfigError::MissingCertificate { key, line, .. } = err else {
        panic!("expected MissingCertificate, got {text}")
    };
    // The first TLS file checked is the server certificate; none of the defaults exist here.
    assert_eq!((key, line), ("tls.server_cert", None));
    assert!(
        text.contains("/etc/linux_patch_api/certs/server.pem"),
        "{text}"
    );
    assert!(text.contains("default"), "{text}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let (_dir, tls) = cert_dir();
    let err = parse_text(&format!(
        "{tls}server:\n  port: 0\n  max_connections: 0\nlogging:\n  level: \"=[\"\n"
    ))
    .unwrap_err();
    let ConfigError::Invalid { issues, .. } = err else {
        panic!("expected Invalid")
    };
    let keys: Vec<_> = issues.iter().map(|i| (i.key.as_str(), i.line)).collect();
    assert_eq!(
        keys,
        vec![
            ("server.port", Some(6)),
            ("server.max_connections", Some(7)),
            ("logging.level", Some(9))
        ]
    );
}

#[test]
fn unknown_keys_are_warnings_naming_file_line_and_key() {
    let (_dir, tls) = cert_dir();
    let loaded = parse_text(&format!(
        "{tls}server:\n  port: 1\n  prot: 2\nfrobnicate: true\n"
    ))
    .unwrap();
    let warnings: Vec<_> = loaded
        .unknown_keys
        .iter()
        .map(|u| (u.key.as_str(), u.line))
        .collect();
    assert_eq!(warnings, vec![("server.prot", 7), ("frobnicate", 8)]);
    let text = loaded.unknown_keys[0].to_string();
    assert!(
        text.contains("/etc/lpa/config.yaml")
            && text.contains("line 7")
            && text.contains("server.prot")
    );
}

#[test]
fn yaml_syntax_error_names_file_and_line() {
    let err = parse_text("server:\n  port: [1\n").unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{text}");
    assert!(
        text.contains("/etc/lpa/config.yaml") && text.contains("line "),
        "{text}"
    );
}

#[test]
fn unreadable_file_names_the_file() {
    let err = load(Path::new("/nonexistent/config.yaml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().contains("/nonexistent/config.yaml"));
}

#[test]
fn crl_expired_accepts_refuse_and_warn_and_rejects_anything_else() {
    let (_dir, tls) = cert_dir();
    let warn = parse_text(&format!("{tls}  crl_expired: warn\n")).unwrap();
    assert_eq!(warn.config.tls.crl_expired, CrlExpired::Warn);
    let refuse = parse_text(&format!("{tls}  crl_expired: refuse\n")).unwrap();
    assert_eq!(refuse.config.tls.crl_expired, CrlExpired::Refuse);
    let err = parse_text(&format!("{tls}  crl_expired: ignore\n")).unwrap_err();
    let text = only_issue(err).to_string();
    assert!(
        text.contains("crl_expired") || text.contains("ignore"),
        "{text}"
    );
}
