//! Under systemd the confined frontend logs to the journal natively: with `JOURNAL_STREAM` naming its stderr,
//! its events arrive at `/run/systemd/journal/socket` as native-protocol datagrams (message, priority,
//! identifier) and not on stderr; with a `JOURNAL_STREAM` that names another file they stay on stderr.
//!
//! The journal is a real datagram socket bound by a small python3 receiver at the real path, inside a private
//! mount namespace (`unshare --mount` + a tmpfs on `/run`), so the host's `/run` is never touched.

use lpa_testkit::harness::{FRONTEND_ID, Stack};
use lpa_tests::stack;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Receives datagrams at argv[1] and appends each to argv[2], followed by a record separator line.
const RECEIVER: &str = r#"
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
out = open(sys.argv[2], "ab", buffering=0)
while True:
    out.write(s.recv(1 << 20) + b"\n--record--\n")
"#;

/// In a private mount namespace: a tmpfs on /run, the receiver at /run/systemd/journal/socket, then the
/// frontend (uid 61001, as the harness starts it) with stderr appended to $ERRLOG and JOURNAL_STREAM set to
/// `dev:ino` of that file (or to $STREAM_OVERRIDE); stops the frontend with SIGTERM once $STOP exists.
const SCRIPT: &str = r#"
set -eu
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/systemd/journal
/usr/bin/python3 "$RECEIVER" /run/systemd/journal/socket "$JOURNAL_OUT" &
RX=$!
while [ ! -S /run/systemd/journal/socket ]; do sleep 0.05; done
: > "$ERRLOG"
STREAM=${STREAM_OVERRIDE:-$(stat -c '%d:%i' "$ERRLOG")}
JOURNAL_STREAM=$STREAM /usr/bin/setpriv --reuid=61001 --regid=61001 --clear-groups --bounding-set=-all \
  --inh-caps=-all -- "$FRONTEND" --config "$CONFIG" 2>>"$ERRLOG" &
FE=$!
while [ ! -e "$STOP" ]; do sleep 0.05; done
kill -TERM $FE
wait $FE || true
sleep 0.2
kill $RX
"#;

struct Run {
    /// Every datagram the journal received, parsed: one field map per entry.
    journal: Vec<HashMap<String, String>>,
    stderr: String,
}

/// Parses journald's native protocol: `KEY=value\n`, or `KEY\n` + 64-bit little-endian length + value +
/// `\n` for values that may hold any byte (tracing-journald uses that form for most fields).
fn parse_entry(mut data: &[u8]) -> HashMap<String, String> {
    let mut fields = HashMap::new();
    while !data.is_empty() {
        let end = data
            .iter()
            .position(|b| *b == b'\n' || *b == b'=')
            .expect("key end");
        let key = String::from_utf8_lossy(&data[..end]).into_owned();
        if data[end] == b'=' {
            let rest = &data[end + 1..];
            let nl = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
            fields.insert(key, String::from_utf8_lossy(&rest[..nl]).into_owned());
            data = rest.get(nl + 1..).unwrap_or(&[]);
        } else {
            let rest = &data[end + 1..];
            let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
            fields.insert(key, String::from_utf8_lossy(&rest[8..8 + len]).into_owned());
            data = rest.get(8 + len + 1..).unwrap_or(&[]);
        }
    }
    fields
}

fn entries(raw: &[u8]) -> Vec<HashMap<String, String>> {
    let sep = b"\n--record--\n";
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(i) = rest.windows(sep.len()).position(|w| w == sep) {
        if i > 0 {
            out.push(parse_entry(&rest[..i]));
        }
        rest = &rest[i + sep.len()..];
    }
    out
}

async fn run_frontend(stack: &Stack, tag: &str, stream_override: Option<&str>) -> Run {
    let w = stack.work_dir();
    let receiver = w.join("journal-receiver.py");
    std::fs::write(&receiver, RECEIVER).unwrap();
    let (journal_out, errlog, stop) = (
        w.join(format!("{tag}-journal.out")),
        w.join(format!("{tag}-stderr.log")),
        w.join(format!("{tag}-stop")),
    );
    std::fs::write(&journal_out, b"").unwrap();
    let mut child = spawn(
        stack,
        &receiver,
        &journal_out,
        &errlog,
        &stop,
        stream_override,
    );
    // Answered over mTLS (so it is serving and has logged its start), then stopped.
    let client = stack::client(stack);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match client.health().await {
            Ok(resp) => {
                assert_eq!(resp.status, 200);
                break;
            }
            Err(e) if Instant::now() > deadline => panic!(
                "{tag}: the frontend never answered: {e}\nstderr:\n{}",
                std::fs::read_to_string(&errlog).unwrap_or_default()
            ),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    std::fs::write(&stop, b"").unwrap();
    let status = child.wait().expect("script ends");
    assert!(status.success(), "{tag}: script {status}");
    Run {
        journal: entries(&std::fs::read(&journal_out).unwrap()),
        stderr: std::fs::read_to_string(&errlog).unwrap(),
    }
}

fn spawn(
    stack: &Stack,
    receiver: &Path,
    journal_out: &Path,
    errlog: &Path,
    stop: &Path,
    stream_override: Option<&str>,
) -> Child {
    // Test code starting processes: the disallowed-methods lint guards product code.
    #[allow(clippy::disallowed_methods)]
    let mut cmd = std::process::Command::new("/usr/bin/unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        SCRIPT,
    ])
    .env("RECEIVER", receiver)
    .env("JOURNAL_OUT", journal_out)
    .env("ERRLOG", errlog)
    .env("STOP", stop)
    .env(
        "FRONTEND",
        lpa_testkit::paths::binary_path("linux-patch-api").unwrap(),
    )
    .env("CONFIG", stack.frontend_config_path())
    .env_remove("RUST_LOG")
    .stdin(Stdio::null());
    match stream_override {
        Some(value) => cmd.env("STREAM_OVERRIDE", value),
        None => cmd.env_remove("STREAM_OVERRIDE"),
    };
    let _ = FRONTEND_ID; // the script's setpriv uses the same uid
    cmd.spawn().expect("unshare runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn with_journal_stream_on_stderr_the_log_goes_to_the_journal_natively() {
    let mut stack = stack::plain();
    stack.stop_frontend().expect("stop the harness's frontend");
    let listening = format!("listening on 127.0.0.1:{}", stack.port());

    let native = run_frontend(&stack, "native", None).await;
    let message = |run: &Run, text: &str| {
        run.journal
            .iter()
            .find(|e| e.get("MESSAGE").map(String::as_str) == Some(text))
            .cloned()
    };
    let entry = message(&native, &listening).unwrap_or_else(|| {
        panic!(
            "no journal entry {listening:?}: {:?}\nstderr:\n{}",
            native.journal, native.stderr
        )
    });
    // tracing-journald maps INFO to priority 5 (notice); the identifier is the binary's name.
    assert_eq!(
        entry.get("PRIORITY").map(String::as_str),
        Some("5"),
        "{entry:?}"
    );
    assert_eq!(
        entry.get("SYSLOG_IDENTIFIER").map(String::as_str),
        Some("linux-patch-api"),
        "{entry:?}"
    );
    // The shutdown is logged too, from the confined daemon's last moments.
    assert!(
        message(&native, "stopped").is_some(),
        "{:?}",
        native.journal
    );
    assert!(
        !native.stderr.contains(&listening),
        "logged to stderr as well: {}",
        native.stderr
    );

    // Control: JOURNAL_STREAM inherited but naming another file — stderr it is, the journal gets nothing.
    let plain = run_frontend(&stack, "plain", Some("1:1")).await;
    assert!(
        plain.stderr.contains(&listening),
        "stderr:\n{}",
        plain.stderr
    );
    assert!(
        plain.journal.iter().all(|e| !e.contains_key("MESSAGE")),
        "{:?}",
        plain.journal
    );
}
