//! The exact argv of every dnf/rpm entry.

use super::*;
use lpa_protocol::{PackageName, Version};

fn name(s: &str) -> PackageName {
    PackageName::new(s).unwrap()
}

fn spec(n: &str, v: Option<&str>) -> PackageSpec {
    PackageSpec {
        name: name(n),
        version: v.map(|v| Version::new(v).unwrap()),
    }
}

fn sandbox() -> DnfSettings {
    DnfSettings {
        config_file: Some(PathBuf::from("/w/dnf.conf")),
        releasever: Some("1".into()),
        front_end: FrontEnd::Dnf,
    }
}

fn argv(inv: &Invocation) -> Vec<String> {
    args(inv, &sandbox(), Path::new("/w/root"))
        .unwrap()
        .unwrap()
}

const GLOBAL: [&str; 6] = [
    "-y",
    "--color=never",
    "--setopt=exit_on_lock=True",
    "--installroot=/w/root",
    "--config=/w/dnf.conf",
    "--releasever=1",
];

fn with_global(rest: &[&str]) -> Vec<String> {
    GLOBAL.iter().chain(rest).map(|s| (*s).to_owned()).collect()
}

fn every_invocation() -> Vec<Invocation> {
    vec![
        Invocation::RpmQueryInstalled,
        Invocation::DnfRepoqueryUpgrades,
        Invocation::DnfRepoqueryCandidate {
            name: name("demo-lib"),
        },
        Invocation::DnfUpdateinfoList,
        Invocation::DnfUpdateinfoInfo,
        Invocation::DnfMakecache,
        Invocation::DnfInstall {
            packages: vec![
                spec("hello", Some("2:1.0~rc1-3.fc39")),
                spec("demo-lib", None),
            ],
            no_weak_deps: true,
        },
        Invocation::DnfReinstall {
            packages: vec![spec("hello", None)],
        },
        Invocation::DnfDowngrade {
            packages: vec![spec("hello", Some("1.0-1"))],
        },
        Invocation::DnfUpgrade {
            names: vec![name("demo-app"), name("demo-lib")],
        },
        Invocation::DnfUpgradeAll,
        Invocation::DnfRemove {
            names: vec![name("hello")],
        },
    ]
}

#[test]
fn exact_argv_of_each_read_entry() {
    assert_eq!(
        argv(&Invocation::RpmQueryInstalled),
        [
            "--root=/w/root",
            "--dbpath=/var/lib/rpm",
            "-qa",
            "--qf",
            INSTALLED_QF
        ]
    );
    assert_eq!(
        argv(&Invocation::RpmQueryName {
            name: name("demo-lib")
        }),
        [
            "--root=/w/root",
            "--dbpath=/var/lib/rpm",
            "-q",
            "--qf",
            "%{NAME}\n",
            "--",
            "demo-lib"
        ]
    );
    assert_eq!(
        argv(&Invocation::DnfRepoqueryUpgrades),
        with_global(&[
            "-q",
            "-C",
            "repoquery",
            "--upgrades",
            "--latest-limit=1",
            "--qf",
            UPGRADES_QF
        ])
    );
    assert_eq!(
        argv(&Invocation::DnfRepoqueryCandidate {
            name: name("demo-lib")
        }),
        with_global(&[
            "-q",
            "-C",
            "repoquery",
            "--available",
            "--latest-limit=1",
            "--qf",
            CANDIDATE_QF,
            "--",
            "demo-lib"
        ])
    );
    assert_eq!(
        argv(&Invocation::DnfUpdateinfoList),
        with_global(&["-q", "-C", "updateinfo", "list", "--updates"])
    );
    assert_eq!(
        argv(&Invocation::DnfUpdateinfoInfo),
        with_global(&["-q", "-C", "updateinfo", "info", "--updates"])
    );
}

#[test]
fn exact_argv_of_each_package_changing_entry() {
    let inv = every_invocation();
    assert_eq!(argv(&inv[5]), with_global(&["makecache", "--refresh"]));
    assert_eq!(
        argv(&inv[6]),
        with_global(&[
            "--setopt=install_weak_deps=False",
            "install",
            "--",
            "hello-2:1.0~rc1-3.fc39",
            "demo-lib"
        ])
    );
    let plain = Invocation::DnfInstall {
        packages: vec![spec("hello", None)],
        no_weak_deps: false,
    };
    assert_eq!(argv(&plain), with_global(&["install", "--", "hello"]));
    assert_eq!(argv(&inv[7]), with_global(&["reinstall", "--", "hello"]));
    assert_eq!(
        argv(&inv[8]),
        with_global(&["downgrade", "--", "hello-1.0-1"])
    );
    assert_eq!(
        argv(&inv[9]),
        with_global(&["upgrade", "--", "demo-app", "demo-lib"])
    );
    assert_eq!(argv(&inv[10]), with_global(&["upgrade"]));
    assert_eq!(
        argv(&inv[11]),
        with_global(&["remove", "--noautoremove", "--", "hello"])
    );
}

#[test]
fn on_the_real_root_no_installroot_or_config_is_passed() {
    let host = DnfSettings::default();
    let a = args(&Invocation::DnfUpgradeAll, &host, Path::new("/"))
        .unwrap()
        .unwrap();
    assert_eq!(
        a,
        [
            "-y",
            "--color=never",
            "--setopt=exit_on_lock=True",
            "upgrade"
        ]
    );
    let a = args(&Invocation::RpmQueryInstalled, &host, Path::new("/"))
        .unwrap()
        .unwrap();
    assert_eq!(a[0], "--dbpath=/var/lib/rpm");
    // A sandbox root without a config would read the host's repositories into it: refused.
    assert!(args(&Invocation::DnfUpgradeAll, &host, Path::new("/w/root")).is_err());
}

#[test]
fn entries_of_other_backends_are_not_ours() {
    assert_eq!(
        args(&Invocation::AptGetUpdate, &sandbox(), Path::new("/")).unwrap(),
        None
    );
    assert_eq!(program_of(&Invocation::AptGetUpdate, &sandbox()), None);
    assert_eq!(changes_host(&Invocation::PacmanRefresh), None);
}

#[test]
fn yum_runs_the_same_entries_and_rpm_runs_the_query() {
    let yum = DnfSettings {
        front_end: FrontEnd::Yum,
        ..sandbox()
    };
    for inv in every_invocation() {
        let expected = if inv == Invocation::RpmQueryInstalled {
            Program::Rpm
        } else {
            Program::Yum
        };
        assert_eq!(program_of(&inv, &yum), Some(expected), "{inv:?}");
        assert_eq!(
            args(&inv, &yum, Path::new("/w/root")),
            args(&inv, &sandbox(), Path::new("/w/root"))
        );
    }
    assert_eq!(
        program_of(&Invocation::DnfUpgradeAll, &sandbox()),
        Some(Program::Dnf)
    );
    assert!(
        Program::ALL
            .iter()
            .all(|p| p.candidates().iter().all(|c| c.starts_with('/')))
    );
}

#[test]
fn no_entry_weakens_signatures_or_resolves_conflicts_by_erasing() {
    for inv in every_invocation() {
        for arg in argv(&inv) {
            for forbidden in [
                "nogpgcheck",
                "gpgcheck=0",
                "gpgcheck=False",
                "allowerasing",
                "skip-broken",
                "localpkg",
            ] {
                assert!(!arg.contains(forbidden), "{inv:?} has {arg}");
            }
        }
    }
}

#[test]
fn values_follow_a_double_dash_and_empty_lists_are_refused() {
    for inv in every_invocation() {
        let a = argv(&inv);
        if let Some(dd) = a.iter().position(|x| x == "--") {
            assert!(!a[dd + 1..].iter().any(|x| x.starts_with('-')), "{a:?}");
        }
    }
    for inv in [
        Invocation::DnfInstall {
            packages: vec![],
            no_weak_deps: false,
        },
        Invocation::DnfRemove { names: vec![] },
        Invocation::DnfUpgrade { names: vec![] },
    ] {
        assert!(
            args(&inv, &sandbox(), Path::new("/w/root")).is_err(),
            "{inv:?}"
        );
    }
    let bad = DnfSettings {
        releasever: Some("--x".into()),
        ..sandbox()
    };
    assert!(args(&Invocation::DnfUpgradeAll, &bad, Path::new("/w/root")).is_err());
}
