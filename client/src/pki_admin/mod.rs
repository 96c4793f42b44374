//! `linux-patch-ctl pki …`: the operator's certificate authority (the arguments are in `lpa_client::cli::pki`).
//!
//! Every command prints what it wrote and what to do next; every refusal names the file and the way out.

mod files;
mod store;

use anyhow::{Context, Result, bail};
use lpa_client::cli::pki::{AGENT_USER, IssueArgs, IssueCommand, PkiArgs, PkiCommand};
use lpa_pki::{Ca, CertInfo, IssuedCert, Serial, Validity};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use files::{KEY_MODE, PUBLIC_MODE, WriteSpec};
use store::{CaDir, Record, State};

/// How often a fresh random serial is drawn before giving up, should one collide with an issued one.
const SERIAL_ATTEMPTS: usize = 8;

/// Runs one `pki` command.
pub fn run(args: &PkiArgs) -> Result<()> {
    let Some(dir) = &args.dir else {
        bail!(
            "missing --dir (or LPA_PKI_DIR): the directory that holds the CA. Keep it on an administrator's machine, \
             not on the managed hosts (see docs/PKI.md)"
        );
    };
    match &args.command {
        PkiCommand::Init { name, days } => init(dir, name, *days),
        PkiCommand::Issue(IssueCommand::Server {
            dns,
            ip,
            out,
            key_owner,
            common,
        }) => {
            let mut names: Vec<String> = dns.clone();
            names.extend(ip.iter().map(ToString::to_string));
            if names.is_empty() {
                bail!(
                    "a server certificate needs at least one name: pass --dns NAME and/or --ip ADDR (what clients \
                     put in the URL)"
                );
            }
            let owner = key_owner_ids(key_owner.as_deref())?;
            issue_server(dir, &names, out, owner, *common)
        }
        PkiCommand::Issue(IssueCommand::Client { name, out, common }) => {
            issue_client(dir, name, out, *common)
        }
        PkiCommand::Revoke { target } => revoke(dir, target),
        PkiCommand::Crl { out, days } => crl(dir, out, *days),
        PkiCommand::List => list(dir),
    }
}

fn init(dir: &Path, name: &str, days: u32) -> Result<()> {
    let ca = Ca::generate(name, Validity::days_from_now(days)?)?;
    CaDir::create(dir, &ca)?;
    let until = CertInfo::from_pem(ca.cert_pem())?.not_after;
    println!(
        "created CA \"{name}\" in {} (valid until {})",
        dir.display(),
        date(until)
    );
    println!("  certificate  {}", CaDir::cert_path(dir).display());
    println!(
        "  private key  {} (mode 0600: back it up offline; never copy it to a managed host)",
        CaDir::key_path(dir).display()
    );
    println!(
        "next: linux-patch-ctl pki issue server --dir {} --dns HOSTNAME [--ip ADDR] --out DIR",
        dir.display()
    );
    Ok(())
}

fn issue_server(
    dir: &Path,
    names: &[String],
    out: &Path,
    key_owner: Option<(u32, u32, String)>,
    common: IssueArgs,
) -> Result<()> {
    let (ca_dir, ca, mut state) = CaDir::open(dir)?;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let validity = Validity::days_from_now(common.days)?;
    let issued = unique(&state, || ca.issue_server(&refs, validity))?;
    files::ensure_dir(out, 0o755)?;
    let (cert_path, key_path) = (out.join("server.pem"), out.join("server.key"));
    let ca_path = out.join("ca.pem");
    write_ca_copy(&ca_path, ca.cert_pem(), common.force)?;
    write_pair(
        &issued,
        &cert_path,
        &key_path,
        key_owner.as_ref().map(|(u, g, _)| (*u, *g)),
        common.force,
    )?;
    record(&ca_dir, &mut state, &issued, "server", &names[0])?;
    println!(
        "issued server certificate {} for {} (valid until {})",
        issued.serial,
        names.join(", "),
        date(validity.not_after())
    );
    println!("  certificate  {}", cert_path.display());
    match &key_owner {
        Some((_, _, user)) => {
            println!(
                "  private key  {} (mode 0600, owner {user})",
                key_path.display()
            )
        }
        None => println!(
            "  private key  {} (mode 0600; the agent's user must own it: chown {AGENT_USER} it on the host)",
            key_path.display()
        ),
    }
    println!("  CA           {}", ca_path.display());
    Ok(())
}

fn issue_client(dir: &Path, name: &str, out: &Path, common: IssueArgs) -> Result<()> {
    if name.is_empty() || name.chars().any(|c| c.is_control() || c == '/') {
        bail!(
            "invalid client name {name:?}: it must be non-empty, without '/' or control characters"
        );
    }
    let (ca_dir, ca, mut state) = CaDir::open(dir)?;
    let validity = Validity::days_from_now(common.days)?;
    let issued = unique(&state, || ca.issue_client(name, validity))?;
    files::ensure_dir(out, 0o755)?;
    let (cert_path, key_path) = (
        out.join(format!("{name}.pem")),
        out.join(format!("{name}.key")),
    );
    write_pair(&issued, &cert_path, &key_path, None, common.force)?;
    record(&ca_dir, &mut state, &issued, "client", name)?;
    println!(
        "issued client certificate {} for \"{name}\" (valid until {})",
        issued.serial,
        date(validity.not_after())
    );
    println!("  certificate  {}", cert_path.display());
    println!("  private key  {} (mode 0600)", key_path.display());
    println!("  CA           {}", CaDir::cert_path(dir).display());
    Ok(())
}

fn revoke(dir: &Path, target: &str) -> Result<()> {
    let (ca_dir, _ca, mut state) = CaDir::open(dir)?;
    let serial = serial_of(target)?;
    let Some(record) = state.find_mut(&serial) else {
        bail!(
            "serial {serial} was not issued by the CA in {} (not in its state.json); nothing revoked",
            dir.display()
        );
    };
    if let Some(at) = &record.revoked_at {
        println!(
            "certificate {serial} (\"{}\") was already revoked at {at}",
            record.name
        );
        return Ok(());
    }
    record.revoked_at = Some(OffsetDateTime::now_utc().format(&Rfc3339)?);
    let name = record.name.clone();
    ca_dir.save(&state)?;
    println!("revoked certificate {serial} (\"{name}\")");
    println!(
        "next: publish it with `linux-patch-ctl pki crl --dir {}` and copy the CRL to every agent",
        dir.display()
    );
    Ok(())
}

fn crl(dir: &Path, out: &Path, days: u32) -> Result<()> {
    let (ca_dir, ca, mut state) = CaDir::open(dir)?;
    let revoked = state.revoked()?;
    let now = OffsetDateTime::now_utc();
    let next = now + time::Duration::days(i64::from(days));
    let number = state.crl_number + 1;
    let pem = ca.crl(&revoked, now, next, number)?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        files::ensure_dir(parent, 0o755)?;
    }
    files::write(
        out,
        pem.as_bytes(),
        WriteSpec {
            mode: PUBLIC_MODE,
            owner: None,
            replace: true,
        },
    )?;
    state.crl_number = number;
    ca_dir.save(&state)?;
    println!(
        "wrote CRL number {number} to {} ({} revoked certificate(s); next update {})",
        out.display(),
        revoked.len(),
        date(next)
    );
    println!(
        "the agent reads it at start: restart linux-patch-api (or copy it to each agent and restart there)"
    );
    Ok(())
}

fn list(dir: &Path) -> Result<()> {
    let (_ca_dir, _ca, state) = CaDir::open(dir)?;
    if state.certificates.is_empty() {
        println!("no certificates issued yet by the CA in {}", dir.display());
        return Ok(());
    }
    println!(
        "{:<32}  {:<6}  {:<25}  {:<10}  STATUS",
        "SERIAL", "KIND", "NAME", "EXPIRES"
    );
    for r in &state.certificates {
        let status = match &r.revoked_at {
            Some(at) => format!("revoked {at}"),
            None => "valid".to_owned(),
        };
        let expires = r.not_after.get(..10).unwrap_or(&r.not_after);
        println!(
            "{:<32}  {:<6}  {:<25}  {expires:<10}  {status}",
            r.serial, r.kind, r.name
        );
    }
    Ok(())
}

/// Issues until the serial is one the CA never used (16 random bytes make a repeat practically impossible;
/// the check makes it impossible).
fn unique(
    state: &State,
    mut issue: impl FnMut() -> Result<IssuedCert, lpa_pki::PkiError>,
) -> Result<IssuedCert> {
    for _ in 0..SERIAL_ATTEMPTS {
        let issued = issue()?;
        if !state.knows(&issued.serial) {
            return Ok(issued);
        }
    }
    bail!(
        "could not draw an unused serial in {SERIAL_ATTEMPTS} attempts; is the random number generator broken?"
    )
}

/// Writes certificate (0644) and key (0600, optionally owned by `key_owner`). Both are checked first, so a
/// refusal leaves neither file half-replaced.
fn write_pair(
    issued: &IssuedCert,
    cert_path: &Path,
    key_path: &Path,
    key_owner: Option<(u32, u32)>,
    force: bool,
) -> Result<()> {
    if !force {
        for path in [cert_path, key_path] {
            if path.symlink_metadata().is_ok() {
                bail!(
                    "{} already exists; refusing to overwrite it (pass --force to replace it)",
                    path.display()
                );
            }
        }
    }
    files::write(
        key_path,
        issued.key_pem.as_bytes(),
        WriteSpec {
            mode: KEY_MODE,
            owner: key_owner,
            replace: force,
        },
    )?;
    files::write(
        cert_path,
        issued.cert_pem.as_bytes(),
        WriteSpec {
            mode: PUBLIC_MODE,
            owner: None,
            replace: force,
        },
    )
}

/// Puts the CA certificate next to the server certificate; an identical existing copy is fine, a different
/// one (another CA) is refused unless `force`.
fn write_ca_copy(path: &Path, ca_pem: &str, force: bool) -> Result<()> {
    match std::fs::read_to_string(path) {
        Ok(existing) if existing == ca_pem => return Ok(()),
        Ok(_) if !force => bail!(
            "{} already exists and holds a different CA certificate; refusing to overwrite it (pass --force to \
             replace it)",
            path.display()
        ),
        _ => {}
    }
    files::write(
        path,
        ca_pem.as_bytes(),
        WriteSpec {
            mode: PUBLIC_MODE,
            owner: None,
            replace: true,
        },
    )
}

fn record(
    ca_dir: &CaDir,
    state: &mut State,
    issued: &IssuedCert,
    kind: &str,
    name: &str,
) -> Result<()> {
    ca_dir.keep_copy(&issued.serial, &issued.cert_pem)?;
    let not_after = CertInfo::from_pem(&issued.cert_pem)?
        .not_after
        .format(&Rfc3339)?;
    state.certificates.push(Record {
        serial: issued.serial.to_hex(),
        kind: kind.to_owned(),
        name: name.to_owned(),
        not_after,
        revoked_at: None,
    });
    ca_dir.save(state)
}

/// The serial `target` names: read from the certificate if `target` is a file, else parsed as hex.
fn serial_of(target: &str) -> Result<Serial> {
    let path = PathBuf::from(target);
    let serial = if path.is_file() {
        let pem = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        CertInfo::from_pem(&pem)
            .with_context(|| format!("{} is not a PEM certificate", path.display()))?
            .serial
    } else {
        Serial::from_hex(target).with_context(|| {
            format!("{target:?} is neither a certificate file nor a serial number in hex")
        })?
    };
    // `01ab` and `ab` are the same number; the state records the form without leading zeros.
    Ok(Serial::from_be_bytes(serial.as_bytes())?)
}

/// The uid/gid (and name) `server.key` is given: `--key-owner`, else the agent's user when it exists and we
/// are root (only root can give a file away), else nobody in particular.
fn key_owner_ids(requested: Option<&str>) -> Result<Option<(u32, u32, String)>> {
    let lookup = |name: &str| {
        nix::unistd::User::from_name(name)
            .with_context(|| format!("cannot look up user {name}"))
            .map(|u| u.map(|u| (u.uid.as_raw(), u.gid.as_raw(), name.to_owned())))
    };
    match requested {
        Some(name) => match lookup(name)? {
            Some(found) => Ok(Some(found)),
            None => bail!("--key-owner {name}: no such user"),
        },
        None if nix::unistd::geteuid().is_root() => lookup(AGENT_USER),
        None => Ok(None),
    }
}

fn date(t: OffsetDateTime) -> String {
    t.date().to_string()
}
