//! The safety promises through the real binary: no push to the wrong audience, none sent
//! twice, none lost to a configuration mistake, exits CI can trust.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::apply::{KEY_VAR, Repo, emulator_config, set_faults, start_emulator};
use crate::support::cli::{run, text};
use chrono::SecondsFormat;
use crier::ledger::FileLedger;
use crier::ledger::record::StateKind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_audience_list_is_an_error_at_its_place_and_nothing_is_sent() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    let cases = [
        ("tags: {any: []}", "audience.tags.any is empty"),
        ("tags: {none: []}", "audience.tags.none is empty"),
        ("tags: {all: [], any: [a]}", "audience.tags.all is empty"),
        ("attrs: {any: {}}", "audience.attrs.any is empty"),
        ("attrs: {all: {}}", "audience.attrs.all is empty"),
    ];
    for (audience, message) in cases {
        let at = repo.now.to_rfc3339_opts(SecondsFormat::Secs, true);
        repo.write("campaigns/x.yaml",
            format!(
                "version: 1\nname: x\naudience:\n  {audience}\nschedule: {{at: \"{at}\"}}\nmessage:\n  body:\n    - text: hi\n"
            ),
        );
        let o = run(repo.binary(&["validate"])).await;
        let out = text(&o);
        assert_eq!(o.status.code(), Some(1), "{audience}: {out}");
        assert!(
            out.contains("campaigns/x.yaml:4:") && out.contains(message),
            "{audience}: {out}"
        );
        assert!(out.contains("reaches every user"), "{out}");
        let o = run(repo.binary(&["apply", "--auto-approve"])).await;
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    }
    assert!(emu.pushes().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_with_no_valid_first_line_is_refused_not_read_as_empty() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    repo.campaigns(2);
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(emu.pushes().len(), 2);
    // A power loss leaves the file as zeros of the same length.
    let path = repo.ledger_dir().join("ledger.jsonl");
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::write(&path, vec![0u8; usize::try_from(len).unwrap()]).unwrap();
    for args in [&["apply", "--auto-approve"][..], &["plan"], &["status"]] {
        let o = run(repo.binary(args)).await;
        let out = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {out}");
        assert!(out.contains("ledger.jsonl"), "{out}");
        assert!(out.contains("no complete header record"), "{out}");
        assert!(out.contains("restore the ledger"), "{out}");
        assert_eq!(
            out.matches("no complete header record").count(),
            1,
            "an error's text is said once: {out}"
        );
    }
    assert_eq!(emu.pushes().len(), 2, "nothing was sent again");
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        len,
        "left as found"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_lock_file_under_a_running_apply_never_lets_a_second_one_write() {
    // One second per answer: the first apply is mid-request when the lock file goes away.
    let mut config = emulator_config(Duration::from_millis(20), 100);
    config.faults.latency_ms = 1000;
    let emu = start_emulator(config).await;
    let repo = Repo::for_emulator(&emu.base_url(), "20ms", 100);
    repo.campaigns(4);
    let first = repo
        .binary(&["apply", "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lock = repo.ledger_dir().join("ledger.lock");
    for _ in 0..100 {
        if lock.exists() && std::fs::metadata(&lock).unwrap().len() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(1300)).await;
    std::fs::remove_file(&lock).unwrap();
    let second = run(repo.binary(&["apply", "--auto-approve", "--lock-timeout", "300ms"])).await;
    let out = text(&second);
    assert_eq!(second.status.code(), Some(1), "{out}");
    assert!(
        out.contains("is held by another writer although its lock file was free"),
        "{out}"
    );
    let first = tokio::task::spawn_blocking(move || first.wait_with_output().unwrap())
        .await
        .unwrap();
    let out = text(&first);
    assert_eq!(first.status.code(), Some(1), "{out}");
    assert!(
        out.contains("was removed or replaced while this process held the writer lock"),
        "{out}"
    );
    // Every push went out once and the ledger is readable, with one record per sequence number.
    let pushes = emu.pushes();
    let mut randoms: Vec<u64> = pushes
        .iter()
        .map(|p| p.body["MsgRandom"].as_u64().unwrap())
        .collect();
    randoms.sort_unstable();
    randoms.dedup();
    assert_eq!(randoms.len(), pushes.len(), "no duplicate push");
    // The first one recorded the outcome of its request in flight: nothing dangles.
    let read = FileLedger::new(repo.ledger_dir()).read_sync().unwrap();
    assert!(
        read.snapshot
            .occurrences
            .values()
            .all(|o| o.kind() == StateKind::Sent),
        "{:?}",
        read.snapshot
            .occurrences
            .values()
            .map(|o| o.kind())
            .collect::<Vec<_>>()
    );
    assert_eq!(read.snapshot.occurrences.len(), pushes.len());
    // The next apply recovers (the dangling intent, if any, becomes in_doubt) and sends the rest once.
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let pushes = emu.pushes();
    assert_eq!(pushes.len(), 4);
    let mut names: Vec<String> = pushes
        .iter()
        .map(|p| crate::support::apply::body_campaign(&p.body))
        .collect();
    names.sort();
    let before = names.len();
    names.dedup();
    assert_eq!(
        names.len(),
        before,
        "no campaign was delivered twice: {names:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_with_previous_names_sends_nothing_again_and_without_it_apply_holds() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    repo.campaign("spring", "");
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(emu.pushes().len(), 1);

    // Renamed with previous_names: the plan says so, apply sends nothing.
    std::fs::remove_file(repo.path().join("campaigns/spring.yaml")).unwrap();
    repo.campaign("spring-sale", "previous_names: [spring]\n");
    let o = run(repo.binary(&["plan"])).await;
    let out = text(&o);
    assert!(
        out.contains("renamed from `spring` (previous_names)"),
        "{out}"
    );
    assert!(!out.contains("WILL SEND AGAIN"), "{out}");
    assert!(out.contains("Due now (0)"), "{out}");
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(emu.pushes().len(), 1, "nothing sent again");

    // Renamed again without previous_names: WILL SEND AGAIN in the change list, held by apply.
    std::fs::remove_file(repo.path().join("campaigns/spring-sale.yaml")).unwrap();
    repo.campaign("easter", "");
    for format in ["human", "markdown", "json"] {
        let o = run(repo.binary(&["plan", "--format", format])).await;
        assert!(
            text(&o).contains("WILL SEND AGAIN"),
            "{format}: {}",
            text(&o)
        );
    }
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("held (will_send_again)"), "{out}");
    assert!(out.contains("crier apply --send-again easter"), "{out}");
    assert_eq!(emu.pushes().len(), 1, "held, not sent");
    // Acknowledged by name: sent.
    let o = run(repo.binary(&["apply", "--auto-approve", "--send-again", "easter"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(emu.pushes().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewed_plan_file_acknowledges_will_send_again_and_needs_no_terminal() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    repo.campaign("spring", "");
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    std::fs::remove_file(repo.path().join("campaigns/spring.yaml")).unwrap();
    repo.campaign("easter", "");
    let o = run(repo.binary(&["plan", "--out", "reviewed.json"])).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // No --auto-approve and no terminal: the saved plan is the approval.
    let o = run(repo.binary(&["apply", "reviewed.json"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(emu.pushes().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_key_leaves_the_occurrence_due_and_the_plan_says_why() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    repo.campaigns(2);
    let mut c = repo.binary(&["apply", "--auto-approve"]);
    c.env(KEY_VAR, "0".repeat(64));
    let o = run(c).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("failed: ErrorCode 700"), "{out}");
    assert!(emu.pushes().is_empty());
    // The provider refused: nothing was delivered, so after the fix it is due again.
    let o = run(repo.binary(&["plan"])).await;
    let out = text(&o);
    assert!(out.contains("Due now (2)"), "{out}");
    assert!(
        out.contains("retry: the provider refused the last attempt with ErrorCode 700"),
        "{out}"
    );
    let o = run(repo.binary(&["status"])).await;
    assert!(text(&o).contains("ErrorCode 700"), "{}", text(&o));
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(emu.pushes().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_a_retry_wait_leaves_a_closed_attempt_not_an_in_doubt_one() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    repo.campaigns(1);
    crier::api::client::install_crypto_provider();
    set_faults(
        &emu,
        serde_json::json!({"fail_rate": 1.0, "fail_code": 91000}),
    )
    .await;
    let mut child = repo
        .binary(&["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The first refusal comes at once and is recorded; the backoff wait that follows lasts at
    // least 500 ms (1 s jittered down to half), so a kill as soon as the ledger shows the
    // refusal lands inside the wait. A fixed sleep raced the jitter.
    let ledger = FileLedger::new(repo.ledger_dir());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let refused = ledger.read_sync().ok().is_some_and(|read| {
            read.snapshot
                .occurrences
                .values()
                .any(|occ| occ.kind() == StateKind::NotSent)
        });
        if refused {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first refusal never reached the ledger"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap();
    let _ = child.wait();
    let read = ledger.read_sync().unwrap();
    let occ = read.snapshot.occurrences.values().next().unwrap();
    assert_eq!(occ.kind(), StateKind::NotSent, "{:?}", occ.history);
    set_faults(&emu, serde_json::json!({"fail_rate": 0.0})).await;
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(!out.contains("in_doubt"), "{out}");
    assert_eq!(emu.pushes().len(), 1);
}

#[test]
fn usage_errors_exit_1_never_2() {
    for args in [
        &["plan", "--bsae", "x"][..],
        &["validate", "--format", "gihub"],
        &[],
        &["apply", "--no-such-flag"],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_crier"))
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
    }
    let o = Command::new(env!("CARGO_BIN_EXE_crier"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn crier_yaml_is_found_from_a_subfolder_and_fifos_are_not_read() {
    let repo = Repo::for_emulator("http://127.0.0.1:9", "1s", 100);
    repo.campaign("a", "");
    let sub = repo.path().join("campaigns");
    let o = Command::new(env!("CARGO_BIN_EXE_crier"))
        .arg("validate")
        .current_dir(&sub)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A FIFO named *.yaml: reported, never opened (opening it would block forever).
    let fifo = sub.join("pipe.yaml");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let o = Command::new(env!("CARGO_BIN_EXE_crier"))
        .arg("validate")
        .current_dir(repo.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("campaigns/pipe.yaml:1:1: error: not a regular file"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_certificate_is_said_once_not_retried_and_no_library_log_leaks() {
    let mut config = emulator_config(Duration::from_millis(5), 100);
    config.tls_self_signed = true;
    let emu = start_emulator(config).await;
    assert!(emu.base_url().starts_with("https://"));
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    repo.campaigns(2);
    let started = std::time::Instant::now();
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "a certificate error is not retried for long: {:?}",
        started.elapsed()
    );
    assert_eq!(
        out.matches("hint: for a corporate proxy or a self-signed server, set ca_file")
            .count(),
        1,
        "{out}"
    );
    assert!(!out.contains(" ERROR "), "no library log lines: {out}");
    assert!(!out.contains("rustls"), "{out}");
    assert!(emu.pushes().is_empty());
    // Nothing was written: the first is closed as not_sent, the second never attempted; both
    // stay due once the certificate is trusted.
    let read = FileLedger::new(repo.ledger_dir()).read_sync().unwrap();
    let kinds: Vec<StateKind> = read
        .snapshot
        .occurrences
        .values()
        .map(|o| o.kind())
        .collect();
    assert_eq!(kinds, [StateKind::NotSent]);
    assert!(
        out.contains("not attempted: app prod stopped: the server's certificate was refused"),
        "{out}"
    );
}

/// The README's first ten minutes: `crier init`, the emulator as the README starts it (on a
/// free port here), `crier plan`, `crier apply`: a push is delivered to generated users.
#[test]
fn from_init_to_a_delivered_push_on_the_emulator() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let crier = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_crier"));
        c.current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env("CRIER_LOCAL_SECRET_KEY", "any-local-key")
            .env_remove("CRIER_NOW")
            .env_remove("CI")
            .stdin(Stdio::null());
        c
    };
    let o = crier().arg("init").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| {
            l.trim_start()
                .starts_with("crier emulator --listen 127.0.0.1:8080")
        })
        .expect("the README starts the emulator");
    let args: Vec<String> = line
        .trim()
        .trim_end_matches('&')
        .split_whitespace()
        .skip(1)
        .map(|a| a.replace("127.0.0.1:8080", "127.0.0.1:0"))
        .collect();
    let mut emulator = crier()
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(emulator.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let config = dir.path().join("crier.yaml");
    let text_of = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text_of.replace("http://127.0.0.1:8080", &url)).unwrap();

    let o = crier().arg("plan").output().unwrap();
    assert_eq!(o.status.code(), Some(2), "something is due: {}", text(&o));
    let o = crier().args(["apply", "--auto-approve"]).output().unwrap();
    let out = text(&o);
    let pushes: serde_json::Value = http_get::json(&format!("{url}/emulator/pushes"));
    let _ = emulator.kill();
    let _ = emulator.wait();
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("✓ sent my-project/1400000001/try-the-emulator@"),
        "{out}"
    );
    let pushes = pushes["pushes"].as_array().unwrap();
    assert_eq!(pushes.len(), 1);
    assert!(pushes[0]["recipients"].as_u64().unwrap() > 0, "{pushes:?}");
}

mod http_get {
    /// A GET on a plain-HTTP URL with std only (the test has no blocking HTTP client).
    pub fn json(url: &str) -> serde_json::Value {
        use std::io::{Read as _, Write as _};
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest
            .split_once('/')
            .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
        let mut tcp = std::net::TcpStream::connect(host).unwrap();
        write!(
            tcp,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        tcp.read_to_string(&mut response).unwrap();
        let body = response.split_once("\r\n\r\n").unwrap().1;
        // A chunked body: take the JSON between the first `{` and the last `}`.
        let json = &body[body.find('{').unwrap()..=body.rfind('}').unwrap()];
        serde_json::from_str(json).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_formats_report_errors_as_json_and_apply_has_a_json_summary() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    repo.campaigns(1);
    let o = run(repo.binary(&["apply", "--auto-approve", "--format", "json"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["format_version"], 1);
    assert_eq!(summary["counts"]["sent"], 1);
    assert_eq!(summary["exit_code"], 0);
    assert_eq!(summary["outcomes"][0]["outcome"], "sent");
    // An invalid campaign: `plan --format json` answers JSON with located diagnostics.
    repo.write(
        "campaigns/bad.yaml",
        "version: 1\nname: bad\naudience: {tags: {}}\n",
    );
    for args in [
        &["plan", "--format", "json"][..],
        &["apply", "--auto-approve", "--format", "json"],
    ] {
        let o = run(repo.binary(args)).await;
        assert_eq!(o.status.code(), Some(1));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", text(&o)));
        assert_eq!(doc["format_version"], 1);
        assert!(
            doc["error"].as_str().unwrap().contains("not valid"),
            "{doc}"
        );
        let messages: Vec<&str> = doc["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["message"].as_str().unwrap())
            .collect();
        assert!(
            messages.contains(&"audience.tags needs at least one of `any`, `all`, `none`"),
            "{messages:?}"
        );
    }
    // A bad crier.yaml under `validate --format json`, with a UserSig typed into `endpoint`.
    repo.write("crier.yaml",
        "project: rel\napps:\n  prod: {sdkappid: 1, endpoint: \"http://x?usersig=eJwsecret\", admin: a, secret_key_env: K, region: china}\n",
    );
    let o = run(repo.binary(&["validate", "--format", "json"])).await;
    assert_eq!(o.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!doc["diagnostics"].as_array().unwrap().is_empty(), "{doc}");
    let o = run(repo.binary(&["validate"])).await;
    assert!(!text(&o).contains("eJwsecret"), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_rename_with_previous_projects_sends_nothing_again() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    repo.campaigns(1);
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let config = repo.path().join("crier.yaml");
    let original = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        original.replace("project: rel", "project: rel2\nprevious_projects: [rel]"),
    )
    .unwrap();
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(!out.contains("WILL SEND AGAIN"), "{out}");
    assert_eq!(emu.pushes().len(), 1, "nothing sent again");
    // Without previous_projects: WILL SEND AGAIN, held.
    std::fs::write(&config, original.replace("project: rel", "project: rel3")).unwrap();
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("WILL SEND AGAIN"), "{out}");
    assert_eq!(emu.pushes().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_reads_right_crier_now_is_announced_and_render_points_at_broken_files() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    repo.campaigns(1);
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("CRIER_NOW="),
        "the fake clock is announced: {out}"
    );
    assert!(
        out.contains("no applied snapshot yet; 1 campaign is new"),
        "{out}"
    );
    assert!(
        !out.contains("+00:00 (horizon"),
        "seconds, not nanoseconds: {out}"
    );
    // render shows the MsgRandom apply sent (or would send), from the ledger.
    let at = repo.now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let o = run(repo.binary(&["render", "c00", "--at", &at])).await;
    assert!(
        text(&o).contains("as recorded in the ledger"),
        "{}",
        text(&o)
    );
    let o = run(repo.binary(&["ledger", "list"])).await;
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(out.matches("TaskId").count(), 1, "{out}");
    let o = run(repo.binary(&["status"])).await;
    assert!(text(&o).contains("(seq 4, 1 campaign)"), "{}", text(&o));
    // A campaign file that does not parse: render names it.
    repo.write("campaigns/broken.yaml", "version: 1\nname: broken\n\tbad");
    let o = run(repo.binary(&["render", "broken"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("campaigns/broken.yaml:2:7: error: invalid YAML"),
        "{out}"
    );
    assert!(out.contains("campaign `broken` is not valid"), "{out}");
    // A misspelled name gets a suggestion.
    std::fs::remove_file(repo.path().join("campaigns/broken.yaml")).unwrap();
    let o = run(repo.binary(&["render", "c0"])).await;
    assert!(text(&o).contains("did you mean `c00`?"), "{}", text(&o));
    // Two files with one name: both located at the name.
    repo.campaign("twin", "");
    std::fs::copy(
        repo.path().join("campaigns/twin.yaml"),
        repo.path().join("campaigns/twin2.yaml"),
    )
    .unwrap();
    let o = run(repo.binary(&["validate"])).await;
    let out = text(&o);
    assert!(
        out.contains("campaigns/twin.yaml:2:7: error: duplicate campaign name `twin`"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_is_due_again_once_the_campaign_changes() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    repo.campaigns(1);
    crier::api::client::install_crypto_provider();
    set_faults(
        &emu,
        serde_json::json!({"fail_rate": 1.0, "fail_code": 90002}),
    )
    .await;
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    set_faults(&emu, serde_json::json!({"fail_rate": 0.0})).await;
    // The same request would be refused again: held, and the plan says why.
    let o = run(repo.binary(&["plan"])).await;
    let out = text(&o);
    assert!(out.contains("Due now (0)"), "{out}");
    assert!(
        out.contains("Held: within grace, not sent by this apply (1)"),
        "{out}"
    );
    assert!(out.contains("ErrorCode 90002"), "{out}");
    // The campaign changes: due again, and sent.
    repo.campaign("c00", "description: fixed\n");
    let path = repo.path().join("campaigns/c00.yaml");
    let fixed = std::fs::read_to_string(&path)
        .unwrap()
        .replace("hello from", "hi again from");
    std::fs::write(&path, fixed).unwrap();
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("retry: the provider refused the last attempt with ErrorCode 90002"),
        "{out}"
    );
    assert_eq!(emu.pushes().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_import_restore_a_damaged_ledger_and_nothing_is_sent_again() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    repo.campaigns(2);
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(repo.binary(&["ledger", "export", "backup.jsonl"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let exported = out
        .lines()
        .find(|l| l.starts_with("exported "))
        .unwrap()
        .to_owned();
    let hash = exported
        .split(", ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    assert!(hash.starts_with("sha256:"), "{exported}");
    let ledger = repo.ledger_dir().join("ledger.jsonl");
    assert_eq!(
        std::fs::read(&ledger).unwrap(),
        std::fs::read(repo.path().join("backup.jsonl")).unwrap(),
        "the export is the file ledger's own format"
    );
    // Import refuses a ledger that is not empty.
    let o = run(repo.binary(&["ledger", "import", "backup.jsonl"])).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("is not empty: import only into an empty ledger"),
        "{}",
        text(&o)
    );
    // Power loss: zeros. The refusal names the way back; the operator moves it aside and imports.
    let len = std::fs::metadata(&ledger).unwrap().len();
    std::fs::write(&ledger, vec![0u8; usize::try_from(len).unwrap()]).unwrap();
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert!(text(&o).contains("crier ledger import"), "{}", text(&o));
    std::fs::rename(&ledger, repo.ledger_dir().join("ledger.jsonl.damaged")).unwrap();
    let o = run(repo.binary(&["ledger", "import", "backup.jsonl"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "imported {} records, {hash}",
            exported.split(' ').nth(1).unwrap()
        )),
        "{out}\n{exported}"
    );
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        emu.pushes().len(),
        2,
        "nothing was sent again after the restore"
    );
    // A torn or foreign file is not an export.
    repo.write("torn.jsonl", "{\"v\":1,\"seq\":1");
    let o = run(repo.binary(&["ledger", "import", "torn.jsonl"])).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("is not a ledger export"), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_base_reads_the_ledger_for_quota_used_and_will_send_again() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    repo.campaign("spring", "");
    std::fs::write(repo.path().join(".gitignore"), ".crier/\n").unwrap();
    repo.commit_all();
    // Applied from a GitHub Actions run: the intent records the commit and the run.
    let mut c = repo.binary(&["apply", "--auto-approve", "--allow-ephemeral-ledger"]);
    c.env("GITHUB_ACTIONS", "true")
        .env("CI", "true")
        .env("GITHUB_RUN_ID", "4242")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", "shop/campaigns");
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let head = Command::new("git")
        .current_dir(repo.path())
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    let read = FileLedger::new(repo.ledger_dir()).read_sync().unwrap();
    let occ = read.snapshot.occurrences.values().next().unwrap();
    let origin = occ
        .history
        .iter()
        .find_map(|h| match &h.value {
            crier::ledger::record::OccurrenceState::Intent { origin, .. } => origin.clone(),
            _ => None,
        })
        .expect("the intent records where it came from");
    assert_eq!(origin.commit.as_deref(), Some(head.as_str()));
    assert_eq!(origin.ci_run.as_deref(), Some("github-actions:4242"));
    assert_eq!(
        origin.ci_url.as_deref(),
        Some("https://github.com/shop/campaigns/actions/runs/4242")
    );
    // A pull request renames the sent campaign without previous_names.
    std::fs::remove_file(repo.path().join("campaigns/spring.yaml")).unwrap();
    repo.campaign("easter", "");
    let o = run(repo.binary(&["plan", "--base", "main"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("WILL SEND AGAIN"),
        "the ledger's delivery is seen: {out}"
    );
    assert!(
        out.contains("Quota (used + planned, before → after):"),
        "{out}"
    );
    assert!(
        out.contains(": 1 + 0 → 1 + 1 of 100"),
        "quota used is counted on both sides: {out}"
    );
}
