//! `linux-patch-api-helper --check-config`: everything the helper would refuse at start, checked without
//! starting, so that `ExecStartPre=` / OpenRC's `start_pre` stop a bad configuration with a readable reason
//! (as `sshd -t` and `nginx -t` do).
//!
//! Every problem found is reported on its own `error:` line naming the file, key or path; the exit status is
//! 0 when the helper would start, 1 otherwise. Checks: `helper.yaml` parses and validates (unknown keys are
//! errors, as at start); users and groups resolve; a backend is detected and built in; the reboot command
//! is root-owned and not writable by others (a missing one is a warning: reboots are then unavailable); the
//! package root and the package-manager configuration files it names exist and are root's alone; the socket's directory, if it
//! exists, is owned by root and writable by root only.

use lpa_privhelper::config::{ConfigError, HelperConfig, root_owned};
use lpa_privhelper::launcher::table::change::{RebootCommandError, check_reboot_command};
use lpa_privhelper::users::Identities;
use lpa_privhelper::{detect, socket};
use std::path::Path;
use std::process::ExitCode;

/// Runs every check on the configuration at `path` and prints the verdict.
pub fn run(path: &Path) -> ExitCode {
    let mut errors = 0usize;
    // The file's own ownership is reported, then its content is still checked: every problem at once.
    if let Err(e) = root_owned::check(path) {
        eprintln!("error: {e}");
        errors += 1;
    }
    let cfg = match HelperConfig::load_unvetted(path) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("error: {e}");
            return verdict(path, errors + 1);
        }
    };
    let mut error = |message: String| {
        eprintln!("error: {}: {message}", path.display());
        errors += 1;
    };

    let ids = Identities::resolve(&cfg)
        .map_err(|e| error(e.to_string()))
        .ok();
    let backend = match detect::detect(cfg.backend, &cfg.package_root, detect::exists) {
        Ok(backend) if lpa_privhelper::backend::available(backend) => Some(backend),
        Ok(backend) => {
            error(format!(
                "the {backend} backend is not available in this build of the helper"
            ));
            None
        }
        Err(e) => {
            error(e.to_string());
            None
        }
    };
    match check_reboot_command(&cfg.reboot.command) {
        Ok(()) => {}
        Err(e @ RebootCommandError::Missing { .. }) => {
            eprintln!(
                "warning: {}: `reboot.command`: {e} (reboots will be unavailable)",
                path.display()
            )
        }
        Err(e) => error(format!("`reboot.command`: {e}")),
    }
    if !cfg.package_root.is_dir() {
        error(format!(
            "`package_root`: {} is not a directory",
            cfg.package_root.display()
        ));
    }
    let mut missing = Vec::new();
    for (key, file) in [
        ("apt.config_file", &cfg.apt.config_file),
        ("dnf.config_file", &cfg.dnf.config_file),
        ("pacman.config_file", &cfg.pacman.config_file),
        ("apk.repositories_file", &cfg.apk.repositories_file),
    ] {
        if let Some(file) = file
            && !file.is_file()
        {
            error(format!("`{key}`: {} does not exist", file.display()));
            missing.push(key);
        }
    }
    // Files that exist but are not root's alone (a missing one is reported above, once).
    for problem in cfg.vet_named_files(path) {
        match &problem {
            ConfigError::Invalid { key, message, .. } if !missing.contains(key) => {
                error(format!("`{key}`: {message}"))
            }
            ConfigError::Invalid { .. } => {}
            other => error(other.to_string()),
        }
    }
    let socket_dir = match socket::check_directory(&cfg.socket.path) {
        Ok(true) => "exists, root-only",
        Ok(false) => "will be created 0755 root",
        Err(e) => {
            error(format!("`socket.path`: {e}"));
            ""
        }
    };

    if errors > 0 {
        return verdict(path, errors);
    }
    let (Some(ids), Some(backend)) = (ids, backend) else {
        return verdict(path, 1);
    };
    println!(
        "{}: ok (backend {backend}, package root {}, broker uid {}, frontend uid {}, socket {} ({socket_dir}))",
        path.display(),
        cfg.package_root.display(),
        ids.broker_uid,
        ids.frontend_uid,
        cfg.socket.path.display(),
    );
    ExitCode::SUCCESS
}

fn verdict(path: &Path, errors: usize) -> ExitCode {
    eprintln!(
        "{}: {errors} problem(s); linux-patch-api-helper would refuse to start",
        path.display()
    );
    ExitCode::from(1)
}
