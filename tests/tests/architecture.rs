//! Architecture invariants that the compiler and clippy enforce only as long as nobody opts out: these tests
//! read the product sources and fail if an opt-out appears where it must not.
//!
//! - Only `privhelper::launcher` spawns processes (DESIGN invariant 2). clippy's `disallowed-methods` forbids
//!   `Command::new` everywhere; this test makes sure the only product code that allows it is the launcher.
//! - `unsafe` lives only in `privhelper::sys` and the confinement crate (`confine/`, whose only `unsafe` is
//!   `confine::fds`, closing inherited descriptors), each block with a `// SAFETY:` comment.
//!
//! Test code (`tests/` directories, the test kit) may start processes: that is how it runs the product.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The non-test code of a source file: everything before its first `#[cfg(test)]` (unit tests may name
/// forbidden things in order to assert their absence).
fn product_code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("readable");
    match text.find("#[cfg(test)]") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// Every non-test `.rs` file under the product crates' `src/` directories.
fn product_sources() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for krate in [
        "protocol",
        "pki",
        "confine",
        "privhelper",
        "frontend",
        "client",
    ] {
        collect(&workspace().join(krate).join("src"), &mut out);
    }
    assert!(out.len() > 20, "found only {} source files", out.len());
    out
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && !path.file_name().is_some_and(|n| {
                n == "tests.rs"
                    || n.to_string_lossy().starts_with("fake_")
                    || n.to_string_lossy().starts_with("test_")
            })
        {
            out.push(path);
        }
    }
}

fn relative(path: &Path) -> String {
    path.strip_prefix(workspace())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn only_the_launcher_may_spawn_processes() {
    let mut offenders = Vec::new();
    for path in product_sources() {
        let rel = relative(&path);
        let text = product_code(&path);
        let spawns = text.contains("disallowed_methods")
            || text.contains("Command::new")
            || text.contains("process::Command")
            || text.contains("libc::exec")
            || text.contains("unistd::exec");
        if spawns && !rel.starts_with("privhelper/src/launcher/") {
            offenders.push(rel);
        }
    }
    assert!(
        offenders.is_empty(),
        "process spawning outside the launcher: {offenders:?}"
    );
}

#[test]
fn unsafe_code_lives_only_in_the_helpers_sys_module_and_the_confine_crate_with_safety_comments() {
    for path in product_sources() {
        let rel = relative(&path);
        let text = product_code(&path);
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if !(code.contains("unsafe {")
                || code.contains("unsafe fn")
                || code.contains("allow(unsafe_code)"))
            {
                continue;
            }
            assert!(
                rel == "privhelper/src/sys.rs" || rel.starts_with("confine/src/"),
                "unsafe outside the sys module and the confinement crate at {rel}:{}",
                i + 1
            );
            if code.contains("unsafe {") {
                let context = lines[i.saturating_sub(6)..=i].join("\n");
                assert!(
                    context.contains("SAFETY:"),
                    "unsafe block without a SAFETY comment at {rel}:{}",
                    i + 1
                );
            }
        }
    }
}

#[test]
fn no_product_option_can_disable_signature_checks() {
    // DESIGN invariant 7: `force` never disables signature checks and nothing adds repositories or keys.
    for path in product_sources() {
        let text = product_code(&path);
        for forbidden in [
            "--allow-unauthenticated",
            "--force-yes",
            "AllowUnauthenticated",
            "apt-key",
            "--nogpgcheck",
            "SigLevel",
            "--allow-untrusted",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} mentions {forbidden}",
                relative(&path)
            );
        }
    }
}

/// Lines of non-test code in the product sources under `dir` (relative to the workspace), leaving out the
/// files `skip` accepts.
fn code_lines(dir: &str, skip: impl Fn(&str) -> bool) -> usize {
    product_sources()
        .iter()
        .filter(|p| {
            let rel = relative(p);
            rel.starts_with(dir) && !skip(&rel)
        })
        .map(|p| product_code(p).lines().count())
        .sum()
}

/// The launcher is the one root process that runs code on requests: it must stay the smallest of the three
/// roles, so a reviewer can read all of it. Its argv tables (`launcher/table*`) are pure functions from
/// validated values to argument lists and are counted apart; what runs — the serve loop, spawning, cancel,
/// the status pipe — has a budget. The exact-name guard (`launcher/exact_guard*`: before a change, confirm
/// with the package manager that each name is exactly one package, so a compromised broker cannot widen a
/// request) has its own budget, so that neither can grow by hiding in the other.
#[test]
fn the_launcher_is_the_smallest_role_and_stays_within_its_budget() {
    const LAUNCHER_BUDGET: usize = 900;
    const GUARD_BUDGET: usize = 350;
    let is_table_or_guard = |rel: &str| {
        rel.starts_with("privhelper/src/launcher/table")
            || rel.starts_with("privhelper/src/launcher/exact_guard")
    };
    let launcher = code_lines("privhelper/src/launcher", is_table_or_guard);
    let guard = code_lines("privhelper/src/launcher", |rel| {
        !rel.starts_with("privhelper/src/launcher/exact_guard")
    });
    let tables = code_lines("privhelper/src/launcher/table", |_| false);
    let broker = code_lines("privhelper/src/broker", |_| false)
        + code_lines("privhelper/src/backend", |_| false)
        + code_lines("privhelper/src/pkgdb", |_| false);
    let frontend = code_lines("frontend/src", |_| false);
    assert!(
        launcher <= LAUNCHER_BUDGET,
        "the launcher grew to {launcher} lines of code (budget {LAUNCHER_BUDGET}): move logic to the broker"
    );
    assert!(
        guard > 0 && guard <= GUARD_BUDGET,
        "the exact-name guard has {guard} lines of code (budget {GUARD_BUDGET})"
    );
    assert!(
        launcher + guard < broker && launcher + guard < frontend,
        "launcher {launcher} + guard {guard} lines, broker {broker}, frontend {frontend}"
    );
    assert!(tables > 0, "the argv tables were found");
}
