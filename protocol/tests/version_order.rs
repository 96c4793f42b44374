//! Each backend's version order against the real implementation it copies (issue 11, item 3):
//! dpkg's through `dpkg --compare-versions`, rpm's through librpm's own `rpmvercmp`, pacman's through
//! libalpm's own `alpm_pkg_vercmp` (both called with Python's ctypes, one process for all pairs).
//!
//! The pairs are drawn by proptest from small alphabets, so they share prefixes and reach the corner cases
//! (`~`, `^`, separators of different lengths, letters against numbers, epochs, releases). Needs the
//! Debian packages `dpkg`, `rpm` (librpmio) and `pacman-package-manager` (libalpm), as CI installs them.

use lpa_protocol::order::{alpm, deb, rpm};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use std::cmp::Ordering;
use std::io::Write;
use std::process::{Command, Stdio};

const PAIRS: usize = 400;

fn pairs(pattern: &str) -> Vec<(String, String)> {
    let strategy = (pattern, pattern);
    let mut runner = TestRunner::deterministic();
    (0..PAIRS)
        .map(|_| strategy.new_tree(&mut runner).expect("a value").current())
        .collect()
}

fn from_int(i: i64) -> Ordering {
    i.cmp(&0)
}

/// `(a, b) → ordering` from a C comparison function of `library`, for every pair, in one Python process.
fn ctypes_compare(library: &str, function: &str, pairs: &[(String, String)]) -> Vec<Ordering> {
    let script = format!(
        "import ctypes, sys\nlib = ctypes.CDLL({library:?})\nf = lib.{function}\n\
         f.argtypes = [ctypes.c_char_p, ctypes.c_char_p]\n\
         for line in sys.stdin.read().splitlines():\n    a, b = line.split('\\t')\n    \
         print(f(a.encode(), b.encode()))\n"
    );
    // Test code runs the real implementation to compare with.
    #[allow(clippy::disallowed_methods)]
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 runs");
    let input: String = pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("pairs written");
    let out = child.wait_with_output().expect("python3 ends");
    assert!(
        out.status.success(),
        "{library} ({function}) could not be called: {out:?}"
    );
    let results: Vec<Ordering> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| from_int(l.trim().parse::<i64>().expect("an integer")))
        .collect();
    assert_eq!(results.len(), pairs.len());
    results
}

#[test]
fn dpkg_order_matches_dpkg_compare_versions() {
    let pairs = pairs("([1-2]:)?[0-9]([.~+][0-9a-c]{1,2}){0,3}(-[0-9a-c]([.~+][0-9a]){0,2})?");
    let mut checked = 0;
    for (a, b) in &pairs {
        let dpkg = |op: &str| {
            #[allow(clippy::disallowed_methods)]
            let status = Command::new("dpkg")
                .args(["--compare-versions", a, op, b])
                .status()
                .expect("dpkg runs");
            status.success()
        };
        let real = if dpkg("lt") {
            Ordering::Less
        } else if dpkg("eq") {
            Ordering::Equal
        } else {
            Ordering::Greater
        };
        assert_eq!(deb::compare(a, b), real, "{a} vs {b}");
        checked += usize::from(real != Ordering::Equal || a != b);
    }
    assert!(checked > PAIRS / 2, "the pairs exercised the order");
}

#[test]
fn rpm_order_matches_librpm_rpmvercmp() {
    let pairs = pairs("[0-9a-c]{1,2}([.~^_+][0-9a-c]{0,2}){0,3}");
    let real = ctypes_compare("librpmio.so.9", "rpmvercmp", &pairs);
    for ((a, b), real) in pairs.iter().zip(real) {
        assert_eq!(rpm::rpmvercmp(a, b), real, "{a} vs {b}");
    }
}

#[test]
fn pacman_order_matches_libalpm_vercmp() {
    let pairs =
        pairs("([1-2]:)?[0-9a-c]{1,2}([.~+_]{1,2}[0-9a-c]{1,2}){0,3}(-[0-9]([.][0-9a]){0,1})?");
    let real = ctypes_compare("libalpm.so.13", "alpm_pkg_vercmp", &pairs);
    let mut differs_from_rpm = 0;
    for ((a, b), real) in pairs.iter().zip(real) {
        assert_eq!(alpm::compare(a, b), real, "{a} vs {b}");
        differs_from_rpm += usize::from(rpm::compare_evr(a, b) != real);
    }
    // Not vacuous: pacman's order really is its own on these pairs.
    assert!(differs_from_rpm > 0, "no pair told pacman and rpm apart");
}
