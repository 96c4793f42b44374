//! Arguments → requests, without a server.

use super::*;
use reqwest::Method;
use serde_json::json;

fn action(args: &[&str]) -> Action {
    let mut argv = vec!["linux-patch-ctl"];
    argv.extend_from_slice(args);
    match Cli::try_parse_from(argv).unwrap().command {
        Command::Api(cmd) => cmd.action(),
        Command::Demo { .. } | Command::Pki(_) => panic!("not an API command"),
    }
}

fn call(args: &[&str]) -> Call {
    match action(args) {
        Action::Request { call, wait: None } => call,
        other => panic!("{other:?}"),
    }
}

#[test]
fn install_with_versions_and_options_becomes_one_post() {
    let c = call(&[
        "install",
        "hello=1.1",
        "demo-lib",
        "--no-recommends",
        "--force",
    ]);
    assert_eq!(c.method, Method::POST);
    assert_eq!(c.path, "/api/v1/packages");
    assert_eq!(
        c.body.unwrap(),
        json!({
            "packages": [{"name": "hello", "version": "1.1"}, {"name": "demo-lib", "version": null}],
            "options": {"force": true, "no_recommends": true, "allow_downgrade": false},
        })
    );
}

#[test]
fn install_without_packages_is_a_usage_error() {
    assert!(Cli::try_parse_from(["linux-patch-ctl", "install"]).is_err());
}

#[test]
fn wait_flag_asks_to_follow_the_job_with_its_limit() {
    let Action::Request { call, wait } = action(&[
        "remove",
        "hello",
        "--purge",
        "--wait",
        "--wait-timeout",
        "90",
    ]) else {
        panic!("expected a request");
    };
    assert_eq!(call.method, Method::DELETE);
    assert_eq!(call.path, "/api/v1/packages/hello");
    assert_eq!(call.query, vec![("purge", "true".to_owned())]);
    assert_eq!(wait, Some(Duration::from_secs(90)));
    let Action::Request { wait, .. } = action(&["update", "hello", "--wait"]) else {
        panic!("expected a request");
    };
    assert_eq!(wait, Some(Duration::from_secs(3600)));
}

#[test]
fn update_sends_the_target_version_or_null() {
    let c = call(&["update", "hello", "--version", "1.1"]);
    assert_eq!(
        (c.method.clone(), c.path.as_str()),
        (Method::PUT, "/api/v1/packages/hello")
    );
    assert_eq!(c.body.unwrap(), json!({"version": "1.1"}));
    assert_eq!(
        call(&["update", "hello"]).body.unwrap(),
        json!({"version": null})
    );
}

#[test]
fn apply_maps_exclusions_selection_and_reboot_into_the_patches_shape() {
    let c = call(&[
        "apply",
        "--exclude",
        "linux-*",
        "--exclude",
        "demo-*",
        "--package",
        "hello",
        "--reboot",
        "--delay-minutes",
        "5",
    ]);
    assert_eq!(
        (c.method.clone(), c.path.as_str()),
        (Method::POST, "/api/v1/patches/apply")
    );
    assert_eq!(
        c.body.unwrap(),
        json!({"patches": ["hello"], "options": {"reboot": true, "reboot_delay_minutes": 5, "exclude_packages": ["linux-*", "demo-*"]}})
    );
    assert_eq!(
        call(&["apply"]).body.unwrap(),
        json!({"patches": [], "options": {"reboot": false, "reboot_delay_minutes": 0, "exclude_packages": []}})
    );
    assert!(
        Cli::try_parse_from(["linux-patch-ctl", "apply", "--delay-minutes", "5"]).is_err(),
        "a reboot delay without --reboot is a usage error"
    );
}

#[test]
fn job_commands_address_the_job_resource() {
    let id = "0190f3a4-7f00-7000-8000-000000000001";
    let list = call(&["jobs", "--status", "failed"]);
    assert_eq!(
        (list.method.clone(), list.path.as_str()),
        (Method::GET, "/api/v1/jobs")
    );
    assert_eq!(list.query, vec![("status", "failed".to_owned())]);
    let one = call(&["job", id]);
    assert_eq!(one.path, format!("/api/v1/jobs/{id}"));
    let cancel = call(&["cancel", id]);
    assert_eq!(
        (cancel.method.clone(), cancel.path),
        (Method::DELETE, format!("/api/v1/jobs/{id}"))
    );
    assert_eq!(
        action(&["watch", id, "--timeout", "10"]),
        Action::Watch {
            id: id.to_owned(),
            limit: Duration::from_secs(10)
        }
    );
}

#[test]
fn reboot_carries_delay_force_and_reason() {
    let c = call(&[
        "reboot",
        "--delay",
        "120",
        "--force",
        "--reason",
        "kernel update",
    ]);
    assert_eq!(
        (c.method.clone(), c.path.as_str()),
        (Method::POST, "/api/v1/system/reboot")
    );
    assert_eq!(
        c.body.unwrap(),
        json!({"delay_seconds": 120, "force": true, "reason": "kernel update"})
    );
}

#[test]
fn read_commands_keep_their_paths() {
    assert_eq!(call(&["health"]).path, "/api/v1/health");
    assert_eq!(call(&["info"]).path, "/api/v1/system/info");
    assert_eq!(
        call(&["service", "ssh.service"]).path,
        "/api/v1/system/services/ssh.service"
    );
    assert_eq!(call(&["package", "hello"]).path, "/api/v1/packages/hello");
    let p = call(&["packages", "--status", "upgradable", "--limit", "5"]);
    assert_eq!(
        p.query,
        vec![
            ("status", "upgradable".to_owned()),
            ("limit", "5".to_owned())
        ]
    );
    assert_eq!(
        call(&["patches", "--severity", "high"]).query,
        vec![("severity", "high".to_owned())]
    );
}

#[test]
fn demo_is_its_own_command() {
    let cli = Cli::try_parse_from(["linux-patch-ctl", "demo", "--port", "13443"]).unwrap();
    assert!(matches!(cli.command, Command::Demo { port: 13443, .. }));
}

#[test]
fn pki_commands_parse_with_the_agent_paths_as_defaults() {
    use super::pki::{IssueCommand, PkiCommand};
    let cli = Cli::try_parse_from([
        "linux-patch-ctl",
        "pki",
        "--dir",
        "/srv/ca",
        "issue",
        "server",
        "--dns",
        "a.example",
        "--ip",
        "10.0.0.1",
    ])
    .unwrap();
    let Command::Pki(pki) = cli.command else {
        panic!("not pki")
    };
    assert_eq!(pki.dir.as_deref(), Some(std::path::Path::new("/srv/ca")));
    match pki.command {
        PkiCommand::Issue(IssueCommand::Server {
            dns,
            ip,
            out,
            common,
            ..
        }) => {
            assert_eq!(dns, ["a.example"]);
            assert_eq!(ip, ["10.0.0.1".parse::<std::net::IpAddr>().unwrap()]);
            assert_eq!(out, std::path::Path::new(super::pki::AGENT_CERT_DIR));
            assert_eq!((common.days, common.force), (365, false));
        }
        other => panic!("{other:?}"),
    }
    let cli = Cli::try_parse_from(["linux-patch-ctl", "pki", "crl"]).unwrap();
    let Command::Pki(pki) = cli.command else {
        panic!("not pki")
    };
    assert!(
        matches!(pki.command, PkiCommand::Crl { ref out, days: 30 } if out == std::path::Path::new("/etc/linux_patch_api/certs/crl.pem"))
    );
    // An address that is not an IP is refused by the parser, not turned into a DNS name.
    assert!(
        Cli::try_parse_from(["linux-patch-ctl", "pki", "issue", "server", "--ip", "host"]).is_err()
    );
}
