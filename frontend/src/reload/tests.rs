//! The reload pipeline on real files: validate, swap or keep, report, close revoked live connections.

use super::*;
use crate::tls::test_pki::{TestCa, write};
use arc_swap::ArcSwap;
use std::net::IpAddr;

struct Fixture {
    dir: tempfile::TempDir,
    ca: TestCa,
    reloader: Reloader,
    tls: SharedServerConfig,
    whitelist: Arc<Whitelist>,
    state: Arc<State>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Reload CA");
    let server = ca.server();
    let files = TlsSection {
        ca_cert: write(dir.path(), "ca.pem", &ca.cert_pem),
        server_cert: write(dir.path(), "server.pem", &server.cert_pem),
        server_key: write(dir.path(), "server.key", &server.key_pem),
        crl_path: Some(write(dir.path(), "crl.pem", &ca.crl(&[]))),
        crl_expired: CrlExpired::Refuse,
    };
    let wl_path = write(dir.path(), "whitelist.yaml", "allowed: [\"127.0.0.1\"]\n");
    let built = tls::build_server_config(&files).unwrap();
    let tls: SharedServerConfig = Arc::new(ArcSwap::new(built.config));
    let whitelist = Arc::new(Whitelist::new(vec!["127.0.0.1/32".parse().unwrap()]));
    let state = Arc::new(State::default());
    let config = Config {
        tls: files,
        whitelist: crate::config::WhitelistSection { path: wl_path },
        ..Config::default()
    };
    let reloader = Reloader::new(&config, None, tls.clone(), whitelist.clone(), state.clone());
    reloader.record_initial(built.server_cert_not_after);
    Fixture {
        dir,
        ca,
        reloader,
        tls,
        whitelist,
        state,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn a_valid_whitelist_is_swapped_and_an_invalid_one_keeps_the_old_and_is_reported() {
    let f = fixture();
    assert_eq!(f.state.config_check(OffsetDateTime::now_utc()), "ok");
    write(
        f.dir.path(),
        "whitelist.yaml",
        "allowed: [\"10.0.0.0/8\"]\n",
    );
    f.reloader.reload("test");
    assert!(f.whitelist.allows(ip("10.1.2.3")));
    assert!(!f.whitelist.allows(ip("127.0.0.1")));

    write(
        f.dir.path(),
        "whitelist.yaml",
        "allowed: [\"not an address\"]\n",
    );
    f.reloader.reload("test");
    assert!(
        f.whitelist.allows(ip("10.1.2.3")),
        "the previous list stays"
    );
    let check = f.state.config_check(OffsetDateTime::now_utc());
    assert!(check.contains("whitelist.yaml"), "{check}");

    write(f.dir.path(), "whitelist.yaml", "allowed: [\"127.0.0.1\"]\n");
    f.reloader.reload("test");
    assert_eq!(f.state.config_check(OffsetDateTime::now_utc()), "ok");
}

#[test]
fn a_broken_key_keeps_the_old_tls_configuration_and_names_the_files() {
    let f = fixture();
    let before = f.tls.load_full();
    write(f.dir.path(), "server.key", "garbage\n");
    f.reloader.reload("test");
    assert!(Arc::ptr_eq(&before, &f.tls.load_full()), "swapped anyway");
    let check = f.state.config_check(OffsetDateTime::now_utc());
    assert!(check.contains("server.key"), "{check}");
}

#[test]
fn a_crl_revoking_a_live_serial_closes_only_that_connection() {
    let f = fixture();
    let revoked = f.state.live.register(&[0x42]);
    let other = f.state.live.register(&[0x43]);
    let before = f.tls.load_full();
    write(f.dir.path(), "crl.pem", &f.ca.crl(&[0x42]));
    f.reloader.reload("test");
    assert!(!Arc::ptr_eq(&before, &f.tls.load_full()), "not swapped");
    assert!(revoked.is_revoked());
    assert!(!other.is_revoked());
    assert_eq!(f.state.config_check(OffsetDateTime::now_utc()), "ok");
}

#[test]
fn a_stale_crl_is_reported_with_its_consequence() {
    let f = fixture();
    let now = OffsetDateTime::now_utc();
    let stale = f.ca.crl_between(
        &[],
        now - time::Duration::days(8),
        now - time::Duration::days(1),
    );
    write(f.dir.path(), "crl.pem", &stale);
    f.reloader.reload("test");
    let check = f.state.config_check(now);
    assert!(
        check.contains("crl.pem") && check.contains("nextUpdate") && check.contains("refused"),
        "{check}"
    );
}

#[test]
fn an_unparsable_crl_is_not_installed() {
    let f = fixture();
    let before = f.tls.load_full();
    write(
        f.dir.path(),
        "crl.pem",
        "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
    );
    f.reloader.reload("test");
    assert!(Arc::ptr_eq(&before, &f.tls.load_full()));
    let check = f.state.config_check(OffsetDateTime::now_utc());
    assert!(check.contains("crl.pem"), "{check}");
}

#[test]
fn restart_only_changes_name_every_changed_key_except_the_reloadable_ones() {
    let old = Config::default();
    let mut new = old.clone();
    new.logging.level = "debug".into();
    new.tls.crl_expired = CrlExpired::Warn;
    assert!(restart_only_changes(&old, &new).is_empty());
    new.server.port = 1;
    new.state_dir = PathBuf::from("/elsewhere");
    assert_eq!(
        restart_only_changes(&old, &new),
        vec!["server.port".to_owned(), "state_dir".to_owned()]
    );
}
