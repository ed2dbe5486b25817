//! The daemon's write path and API under misuse, as a process over HTTP:
//! safe retries, one writer per store, a store that cannot be written,
//! writes a web page cannot forge, bounded input with every problem named,
//! paging, and the dashboard's script against the real endpoints.

// Test helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::daemon::{Daemon, bar, binary, scripts, signal};
use siglearn::store::StoreReader;

const T0: &str = "2024-01-01T00:00:00Z";
const T1: &str = "2024-01-01T00:01:00Z";

/// A request with exactly these headers (ureq would add its own): the
/// status and the JSON body.
fn raw(daemon: &Daemon, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, serde_json::Value) {
    let address = daemon.base.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let mut request =
        format!("POST {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
        request.push_str(&format!("Host: {address}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    (status, serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
}

fn metric(daemon: &Daemon, name: &str) -> u64 {
    let text = daemon.get("/metrics").body;
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

fn siglearn(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(binary()).current_dir(dir).args(args).env_remove("SIGLEARN_TOKEN").output().unwrap()
}

#[test]
fn a_retry_of_a_stored_batch_answers_the_stored_decisions_and_a_changed_item_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline", "head_weights"]);
    let daemon = Daemon::start(dir.path(), &[]);
    let batch =
        format!("[{}, {}]", signal("a", "BTC", T0, ""), signal("b", "BTC", T0, r#","heads":{"rsi":0.5}"#));
    let first = daemon.post("/api/signals", &batch);
    assert_eq!(first.status, 200, "{}", first.body);
    // The answer was lost, say: the client sends the batch again.
    let retry = daemon.post("/api/signals", &batch);
    assert_eq!(retry.status, 200, "a retry is safe: {}", retry.body);
    assert_eq!(retry.json(), first.json(), "the retry is answered with the stored decisions");
    let reader = StoreReader::open(&dir.path().join("siglearn.db")).unwrap();
    assert_eq!(reader.signal_count().unwrap(), 2, "nothing is taken twice");
    assert!(reader.all_decisions().unwrap().values().all(|d| d.len() == 2));
    // The same id with another value is another signal: refused, naming it.
    let changed = format!(
        "[{}, {}]",
        signal("c", "BTC", T0, ""),
        signal("a", "BTC", T0, "").replace("\"take_profit\":110", "\"take_profit\":111")
    );
    let refused = daemon.post("/api/signals", &changed);
    assert_eq!(refused.status, 409, "{}", refused.body);
    let details = &refused.json()["details"];
    assert_eq!((details[0]["index"].as_u64(), details[0]["field"].as_str()), (Some(1), Some("take_profit")));
    assert_eq!(reader.signal_count().unwrap(), 2, "all or nothing: c was not taken");
    // A batch that repeats a stored signal and adds a new one takes the new one.
    let mixed = format!("[{}, {}]", signal("a", "BTC", T0, ""), signal("c", "BTC", T0, ""));
    let answer = daemon.post("/api/signals", &mixed);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["decisions"][0], first.json()["decisions"][0]);
    assert_eq!(reader.signal_count().unwrap(), 3);
    assert_eq!(daemon.get("/api/signals").json()["count"], 3);
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn a_batch_killed_while_committing_is_in_the_store_whole_or_not_at_all_and_its_retry_completes_it() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline", "head_weights"]);
    let db = dir.path().join("siglearn.db");
    let daemon = Daemon::start(dir.path(), &[]);
    const N: u64 = 20_000;
    let batch: Vec<String> =
        (0..N).map(|i| signal(&format!("k{i}"), "BTC", T0, r#","heads":{"rsi":0.25}"#)).collect();
    let batch = format!("[{}]", batch.join(","));
    let address = daemon.base.strip_prefix("http://").unwrap().to_owned();
    let body = batch.clone();
    // The answer never comes: the daemon is killed while it commits.
    let poster = std::thread::spawn(move || {
        let request = format!(
            "POST /api/signals HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
             Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if let Ok(mut stream) = std::net::TcpStream::connect(&address) {
            let _ = stream.write_all(request.as_bytes());
            let _ = stream.read_to_end(&mut Vec::new());
        }
    });
    // Kill as soon as the store shows any of the batch: before transactions
    // were per request, that was the middle of the batch.
    let start = std::time::Instant::now();
    while StoreReader::open(&db).and_then(|r| r.signal_count()).unwrap_or(0) == 0 {
        assert!(start.elapsed() < Duration::from_secs(300), "the batch never reached the store");
        std::thread::sleep(Duration::from_millis(1));
    }
    daemon.crash();
    poster.join().unwrap();
    assert_eq!(
        StoreReader::open(&db).unwrap().signal_count().unwrap(),
        N,
        "all of the batch, not part of it"
    );
    // The client never got its answer and sends the batch again: safe.
    let daemon = Daemon::start(dir.path(), &[]);
    let retry = daemon.post("/api/signals", &batch);
    assert_eq!(retry.status, 200, "{}", &retry.body[..retry.body.len().min(500)]);
    assert_eq!(retry.json()["accepted"], N);
    let reader = StoreReader::open(&db).unwrap();
    assert_eq!(reader.signal_count().unwrap(), N);
    assert!(reader.all_decisions().unwrap().values().all(|d| d.len() == 2));
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn a_cli_write_on_a_store_a_daemon_holds_is_refused_naming_the_daemon_and_its_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    let daemon = Daemon::start(dir.path(), &[]);
    assert_eq!(daemon.post("/api/signals", &signal("a", "BTC", T0, "")).status, 200);
    for action in ["rollback", "promote"] {
        let output = siglearn(dir.path(), &[action, "baseline", "1", "--db", "siglearn.db"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{action} must be refused while the daemon runs");
        assert!(stderr.contains("a daemon (pid"), "{stderr}");
        assert!(stderr.contains(&format!("{}/api/strategies/baseline/{action}", daemon.base)), "{stderr}");
    }
    std::fs::write(
        dir.path().join("c.csv"),
        format!("symbol,ts,open,high,low,close\nBTC,{T0},100,101,99,100\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("s.csv"),
        format!("signal_id,symbol,side,entry_ts,entry_price,take_profit,stop_loss,max_hold_minutes\nz,BTC,long,{T0},100,110,95,\n"),
    )
    .unwrap();
    let output =
        siglearn(dir.path(), &["replay", "--candles", "c.csv", "--signals", "s.csv", "--db", "siglearn.db"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("holds the store"), "{stderr}");
    // The daemon never noticed: it still takes writes, and its figures are its own.
    assert_eq!(daemon.post("/api/signals", &signal("b", "BTC", T0, "")).status, 200);
    let health = daemon.get("/healthz").json();
    assert_eq!((health["status"].as_str(), health["open_signals"].as_u64()), (Some("ok"), Some(2)));
    assert_eq!(daemon.stop().code(), Some(0));
    // Stopped (or killed): the store is free for the command line.
    let output = siglearn(dir.path(), &["rollback", "baseline", "1", "--db", "siglearn.db"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// A small tmpfs, unmounted when dropped; `None` where mounting is not
/// permitted (not root, or in a container without the capability).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Writes `file` until the file system has not a byte left (so no write
/// of the store, however small, can grow a file).
fn fill(file: &Path) {
    let mut out = std::fs::File::create(file).unwrap();
    for size in [64 * 1024, 1024, 1] {
        let chunk = vec![7u8; size];
        while out.write_all(&chunk).is_ok() {}
    }
}

#[test]
fn on_a_full_disk_writes_get_503_nothing_of_them_stays_and_the_daemon_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    let Some(disk) = Tmpfs::mount(&dir.path().join("disk"), "4m") else {
        eprintln!("skipped: mounting a tmpfs is not permitted here");
        return;
    };
    let db = disk.0.join("siglearn.db");
    let daemon = Daemon::start(dir.path(), &["--db", db.to_str().unwrap()]);
    let early: Vec<String> = (0..10).map(|i| signal(&format!("e{i}"), "BTC", T0, "")).collect();
    assert_eq!(daemon.post("/api/signals", &format!("[{}]", early.join(","))).status, 200);
    fill(&disk.0.join("filler"));
    let big: Vec<String> = (0..3000)
        .map(|i| signal(&format!("big-{i}"), "BTC", T0, r#","heads":{"rsi":0.25,"macd":-0.5}"#))
        .collect();
    let big = format!("[{}]", big.join(","));
    let refused = daemon.post("/api/signals", &big);
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(refused.json()["error"].as_str().unwrap().contains("cannot be written"), "{}", refused.body);
    let health = daemon.get("/healthz");
    assert_eq!((health.status, health.json()["status"].as_str()), (503, Some("store_unwritable")));
    // Nothing of the refused batch is kept, in the store or in memory.
    assert_eq!(StoreReader::open(&db).unwrap().signal_count().unwrap(), 10);
    assert_eq!(daemon.get("/api/signals?status=active&limit=1000").json()["count"], 10);
    assert_eq!(health.json()["open_signals"], 10);
    assert_eq!(daemon.post("/api/prices", &bar("BTC", T0, 100.0, 101.0, 99.0)).status, 503);
    // Room again: the daemon goes on by itself.
    std::fs::remove_file(disk.0.join("filler")).unwrap();
    daemon.wait_for("/healthz", Duration::from_secs(60), |h| h["status"] == "ok");
    let answer = daemon.post("/api/signals", &big);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(daemon.get("/api/signals?status=active&limit=1").json()["count"], 3010);
    assert_eq!(daemon.stop().code(), Some(0));
    assert_eq!(StoreReader::open(&db).unwrap().signal_count().unwrap(), 3010);
}

#[test]
fn writes_a_web_page_could_send_are_refused_and_every_refused_batch_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    let daemon = Daemon::start(dir.path(), &[]);
    let body = signal("a", "BTC", T0, "");
    let json = ("Content-Type", "application/json");
    let own_origin = daemon.base.clone();
    let refusals: [(&[(&str, &str)], u16); 6] = [
        (&[("Content-Type", "text/plain")], 415),
        (&[("Content-Type", "application/x-www-form-urlencoded")], 415),
        (&[], 415),
        (&[json, ("Origin", "http://evil.example")], 403),
        (&[json, ("Origin", "null")], 403),
        (&[json, ("Host", "evil.example:7878")], 403),
    ];
    for (headers, status) in refusals {
        let (got, answer) = raw(&daemon, "/api/signals", headers, &body);
        assert_eq!(got, status, "{headers:?}: {answer}");
        assert!(!answer["details"].as_array().unwrap().is_empty(), "a 4xx has details: {answer}");
    }
    let (got, answer) = raw(
        &daemon,
        "/api/strategies/baseline/promote",
        &[("Content-Type", "text/plain")],
        r#"{"version":1}"#,
    );
    assert_eq!(got, 415, "{answer}");
    assert_eq!(daemon.get("/api/signals").json()["count"], 0, "none was taken");
    // From the daemon's own page, or from a program: taken.
    assert_eq!(raw(&daemon, "/api/signals", &[json, ("Origin", &own_origin)], &body).0, 200);
    let (got, _) = raw(
        &daemon,
        "/api/prices",
        &[("Content-Type", "application/x-ndjson")],
        &bar("BTC", T0, 100.0, 101.0, 99.0),
    );
    assert_eq!(got, 200);
    // Refused for other reasons: not JSON, invalid, a body too large.
    assert_eq!(daemon.post("/api/signals", "hello").status, 400);
    assert_eq!(daemon.post("/api/prices", &bar("BTC", "2023-01-01T00:00:00Z", 1.0, 2.0, 0.5)).status, 422);
    assert_eq!(
        metric(&daemon, "siglearn_refused_batches_total"),
        8,
        "every refused batch, whatever the reason"
    );
    // Every 4xx, whoever answers it, is the same JSON with details.
    for (path, status) in
        [("/api/prices", 405), ("/nowhere", 404), ("/api/strategies/baseline/versions?limit=x", 400)]
    {
        let answer = daemon.get(path);
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
        assert!(!answer.json()["details"].as_array().unwrap().is_empty(), "{path}: {}", answer.body);
    }
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn every_bad_field_of_every_item_is_reported_at_once_and_ids_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    let daemon = Daemon::start(dir.path(), &[]);
    let long_id = "x".repeat(1 << 20);
    let batch = format!(
        "[{}, {}, {}, {}]",
        signal("a", "BTC", T0, ""),
        signal(&long_id, "BTC", T0, r#","confidence":2"#)
            .replace("\"take_profit\":110", "\"take_profit\":90"),
        signal("a", "BTC", T0, ""),
        signal("d", "BTC", T0, r#","foo":1"#).replace("\"entry_price\":100", "\"entry_price\":\"x\""),
    );
    let answer = daemon.post("/api/signals", &batch);
    assert_eq!(answer.status, 422, "{}", &answer.body[..answer.body.len().min(2000)]);
    assert!(answer.body.len() < 10_000, "the long id is not echoed: {} bytes", answer.body.len());
    let mut found: Vec<(u64, String)> = answer.json()["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["index"].as_u64().unwrap(), d["field"].as_str().unwrap().to_owned()))
        .collect();
    found.sort();
    let expected: Vec<(u64, String)> = [
        (1, "confidence"),
        (1, "signal_id"),
        (1, "take_profit"),
        (2, "signal_id"),
        (3, "entry_price"),
        (3, "foo"),
    ]
    .into_iter()
    .map(|(i, f)| (i, f.to_owned()))
    .collect();
    assert_eq!(found, expected);
    assert!(answer.body.contains("128"), "the limit is named: {}", answer.body);
    assert_eq!(daemon.get("/api/signals").json()["count"], 0);
    let long_symbol = signal("s", &"S".repeat(65), T0, "");
    assert_eq!(daemon.post("/api/signals", &long_symbol).json()["details"][0]["field"], "symbol");
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn lists_come_in_pages_that_together_hold_each_item_once() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    let daemon = Daemon::start(dir.path(), &[]);
    let closing: Vec<String> = (0..5).map(|i| signal(&format!("c{i}"), "BTC", T0, "")).collect();
    assert_eq!(daemon.post("/api/signals", &format!("[{}]", closing.join(","))).status, 200);
    assert_eq!(daemon.post("/api/prices", &bar("BTC", T0, 100.0, 111.0, 99.0)).status, 200);
    let open: Vec<String> = (0..3).map(|i| signal(&format!("o{i}"), "ETH", T0, "")).collect();
    assert_eq!(daemon.post("/api/signals", &format!("[{}]", open.join(","))).status, 200);
    let mut seen = Vec::new();
    let mut path = "/api/outcomes?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = daemon.get(&path).json();
        pages += 1;
        seen.extend(
            page["outcomes"].as_array().unwrap().iter().map(|o| o["signal_id"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => path = format!("/api/outcomes?limit=2&after={next}"),
            None => break,
        }
        assert!(pages < 10, "paging never ends");
    }
    seen.sort();
    assert_eq!(seen, ["c0", "c1", "c2", "c3", "c4"]);
    let closed = daemon.get("/api/signals?status=closed&limit=3").json();
    assert_eq!(closed["signals"].as_array().unwrap().len(), 3);
    let rest =
        daemon.get(&format!("/api/signals?status=closed&limit=3&after={}", closed["next"].as_str().unwrap()));
    assert_eq!(rest.json()["signals"].as_array().unwrap().len(), 2);
    let active = daemon.get("/api/signals?status=active&limit=2").json();
    assert_eq!((active["count"].as_u64(), active["next"].as_str()), (Some(3), Some("o1")));
    let last = daemon.get("/api/signals?status=active&limit=2&after=o1").json();
    assert_eq!((last["signals"][0]["id"].as_str(), last["next"].as_str()), (Some("o2"), None));
    let versions = daemon.get("/api/strategies/baseline/versions?limit=1").json();
    assert_eq!(versions["versions"].as_array().unwrap().len(), 1);
    let jobs = daemon.get("/api/jobs?job=daily&limit=5");
    assert_eq!(jobs.status, 200, "{}", jobs.body);
    assert!(jobs.json()["runs"].is_array());
    let too_many = daemon.get("/api/outcomes?limit=100000");
    assert_eq!(too_many.status, 400);
    assert!(too_many.json()["error"].as_str().unwrap().contains("1000"), "{}", too_many.body);
    assert_eq!(daemon.stop().code(), Some(0));
}

/// Whether node can run the dashboard's script here. Where `CI` is set a
/// missing node fails the test instead of skipping it: CI must install it.
fn node() -> bool {
    if Command::new("node").arg("--version").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "node is not installed: CI must install nodejs to test the dashboard"
    );
    eprintln!("skipped: node is not installed");
    false
}

/// The daemon's answers to every URL the dashboard fetches, after 40
/// signals whose patterns `pattern` names are posted and closed.
fn dashboard_answers(
    dir: &Path,
    pattern: impl Fn(usize) -> String,
) -> serde_json::Map<String, serde_json::Value> {
    scripts(dir, &["baseline", "head_weights"]);
    let daemon = Daemon::start(dir, &[]);
    let signals: Vec<String> = (0..40)
        .map(|i| {
            let pattern = serde_json::Value::from(pattern(i));
            signal(
                &format!("s{i}"),
                "BTC",
                T0,
                &format!(r#","pattern":{pattern},"regime":{pattern},"confidence":0.{i:02}"#),
            )
        })
        .collect();
    let posted = daemon.post("/api/signals", &format!("[{}]", signals.join(",")));
    assert_eq!(posted.status, 200, "{}", posted.body);
    assert_eq!(daemon.post("/api/prices", &bar("BTC", T1, 100.0, 111.0, 99.0)).status, 200);
    daemon.wait_for("/api/learning/performance?period=all", Duration::from_secs(30), |p| {
        p["overall"]["total_trades"] == 40
    });
    let urls = [
        "/healthz",
        "/api/learning/performance?period=all",
        "/api/experiments",
        "/api/learning/recommendations",
        "/api/strategies",
    ];
    let answers = urls.iter().map(|url| ((*url).to_owned(), daemon.get(url).json())).collect();
    assert_eq!(daemon.stop().code(), Some(0));
    answers
}

/// Runs the dashboard's script `page` in node on a minimal DOM that records
/// what the page does, with `answers` as the API; the page's error line,
/// its text, every innerHTML assigned, every attribute set, and the
/// script's SHA-256 in base64 (as a Content-Security-Policy hash names it).
fn render_dashboard(
    dir: &Path,
    page: &str,
    answers: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Value {
    let script = page.split("<script>").nth(1).unwrap().split("</script>").next().unwrap();
    let harness = format!(
        r#"
const answers = {answers};
const innerHTML = [], attributes = [];
const text = (data) => ({{ get textContent() {{ return data; }} }});
class Element {{
  constructor(tag) {{ this.tag = tag; this.children = []; }}
  set innerHTML(markup) {{ innerHTML.push(String(markup)); this.children = [text(String(markup))]; }}
  get textContent() {{ return this.children.map((c) => c.textContent).join(""); }}
  set textContent(data) {{ this.children = [text(String(data))]; }}
  appendChild(child) {{ this.children.push(child); return child; }}
  replaceChildren(...children) {{ this.children = children.map((c) => (typeof c === "string" ? text(c) : c)); }}
  setAttribute(name, value) {{ attributes.push([name, String(value)]); }}
}}
const elements = {{}};
globalThis.document = {{
  getElementById: (id) => (elements[id] ??= new Element(id)),
  createElement: (tag) => new Element(tag),
  createElementNS: (_, tag) => new Element(tag),
  createTextNode: (data) => text(data),
}};
globalThis.fetch = async (url) => {{
  if (!(url in answers)) throw new Error("the page fetched " + url + ", which the test does not know");
  return {{ ok: true, status: 200, json: async () => answers[url] }};
}};
globalThis.setInterval = () => 0;
const script = {script_json};
eval(script);
setTimeout(() => {{
  const shown = {{}};
  for (const id in elements) shown[id] = elements[id].textContent;
  const hash = require("crypto").createHash("sha256").update(script).digest("base64");
  console.log(JSON.stringify({{ shown, innerHTML, attributes, hash }}));
}}, 200);
"#,
        answers = serde_json::Value::Object(answers),
        script_json = serde_json::Value::from(script),
    );
    std::fs::write(dir.join("page.js"), harness).unwrap();
    let output = Command::new("node").arg(dir.join("page.js")).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The dashboard's script, run in node against the daemon's real answers:
/// every panel renders without an error.
#[test]
fn the_dashboard_script_renders_the_real_endpoints_without_an_error() {
    if !node() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let answers = dashboard_answers(dir.path(), |i| (if i % 2 == 0 { "trend" } else { "range" }).to_owned());
    let page =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../host/src/daemon/dashboard.html"))
            .unwrap();
    let rendered = render_dashboard(dir.path(), &page, answers);
    let shown = &rendered["shown"];
    assert_eq!(shown["error"], "", "the page failed: {rendered}");
    assert!(!shown["recommendations"].as_str().unwrap().is_empty(), "{rendered}");
    assert!(shown["patterns"].as_str().unwrap().contains("trend"), "{rendered}");
}

/// Markup in any value of the API (a pattern as posted, and every string
/// of every answer) reaches the page as text, never as markup.
#[test]
fn the_dashboard_shows_every_value_from_the_api_as_text() {
    if !node() {
        return;
    }
    const HOSTILE: &str = "<img src=x onerror=alert(document.domain)>";
    let dir = tempfile::tempdir().unwrap();
    let mut answers = dashboard_answers(dir.path(), |i| format!("{HOSTILE}{}", i % 2));
    /// Every string value (not key) with the hostile markup after it.
    fn poison(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(text) => text.push_str(HOSTILE),
            serde_json::Value::Array(items) => items.iter_mut().for_each(poison),
            serde_json::Value::Object(map) => map.values_mut().for_each(poison),
            _ => {}
        }
    }
    answers.values_mut().for_each(poison);
    // A missing figure is shown as missing, not a failure of the page.
    answers["/api/experiments"]["strategies"][0]["trades"] = serde_json::Value::Null;
    let daemon_page = {
        let dir = tempfile::tempdir().unwrap();
        scripts(dir.path(), &["baseline"]);
        let daemon = Daemon::start(dir.path(), &[]);
        let page = daemon.get("/");
        assert_eq!(daemon.stop().code(), Some(0));
        page
    };
    let rendered = render_dashboard(dir.path(), &daemon_page.body, answers);
    let shown = &rendered["shown"];
    assert_eq!(shown["error"], "", "the page failed: {rendered}");
    for markup in rendered["innerHTML"].as_array().unwrap() {
        assert!(
            !markup.as_str().unwrap().contains("<img"),
            "markup from the API reached innerHTML: {markup}"
        );
    }
    for (id, what) in [
        ("patterns", "pattern"),
        ("ab", "strategy name"),
        ("cards", "champion"),
        ("recommendations", "reason"),
    ] {
        assert!(
            shown[id].as_str().unwrap().contains(HOSTILE),
            "the {what} is shown as text in #{id}: {rendered}"
        );
    }
    for pair in rendered["attributes"].as_array().unwrap() {
        assert!(!pair[0].as_str().unwrap().starts_with("on"), "an event handler attribute was set: {pair}");
    }
    // The policy the page is served with lets exactly this script run.
    let policy = daemon_page.header("content-security-policy").unwrap();
    let hash = rendered["hash"].as_str().unwrap();
    assert!(policy.contains(&format!("script-src 'sha256-{hash}'")), "{policy}");
}

/// The dashboard is served with a policy that lets no injected markup run
/// (no inline event handler, no other origin) and no site frame it; no
/// answer is read as another type than it says.
#[test]
fn the_dashboard_is_served_with_a_content_security_policy() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    let daemon = Daemon::start(dir.path(), &[]);
    let page = daemon.get("/");
    assert_eq!(page.status, 200);
    let policy = page.header("content-security-policy").expect("the dashboard has a Content-Security-Policy");
    for part in ["default-src 'self'", "script-src 'sha256-", "frame-ancestors 'none'", "object-src 'none'"] {
        assert!(policy.contains(part), "{part} in {policy}");
    }
    assert!(!policy.contains("unsafe-inline") && !policy.contains('*'), "{policy}");
    for path in ["/", "/healthz", "/api/strategies", "/nowhere"] {
        assert_eq!(daemon.get(path).header("x-content-type-options"), Some("nosniff"), "{path}");
    }
    assert_eq!(daemon.stop().code(), Some(0));
}

/// A batch of many bad items is answered in a few kilobytes, whatever its
/// size: the first 100 bad items in full, and how many there are in all.
#[test]
fn a_batch_of_many_bad_items_gets_a_bounded_answer_that_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    let daemon = Daemon::start(dir.path(), &[]);
    const N: usize = 50_000;
    let empty = format!("[{}]", vec!["{}"; N].join(","));
    // A reason that would quote a megabyte of the input is cut.
    let quoting =
        format!(r#"[{{"symbol":"BTC","ts":0,"open":"{}","high":2,"low":1,"close":1}}]"#, "x".repeat(1 << 20));
    for (path, body) in [("/api/signals", &empty), ("/api/prices", &empty), ("/api/prices", &quoting)] {
        let answer = daemon.post(path, body);
        assert_eq!(answer.status, 422, "{path}: {}", &answer.body[..answer.body.len().min(500)]);
        assert!(answer.body.len() < 64 * 1024, "{path}: {} bytes", answer.body.len());
        let json = answer.json();
        let items = if body.len() < 1 << 20 { N } else { 1 };
        assert_eq!(json["bad_items"], items, "{path}: {}", json["error"]);
        assert_eq!(json["left_out_items"], items.saturating_sub(100), "{path}");
        assert!(json["problems"].as_u64().unwrap() >= items as u64, "{path}");
        let listed: std::collections::BTreeSet<u64> =
            json["details"].as_array().unwrap().iter().map(|d| d["index"].as_u64().unwrap()).collect();
        assert_eq!(listed, (0..items.min(100) as u64).collect(), "{path}: the first bad items, in full");
        if items == N {
            assert!(json["error"].as_str().unwrap().contains("49900 left out"), "{}", json["error"]);
        }
    }
    // More items than a batch may hold: refused at once, naming the limit.
    let too_many = daemon.post("/api/signals", &format!("[{}]", vec!["{}"; 100_001].join(",")));
    assert_eq!(too_many.status, 413, "{}", &too_many.body[..too_many.body.len().min(500)]);
    assert!(too_many.body.len() < 1024 && too_many.body.contains("100000"), "{}", too_many.body);
    let lines = vec![r#"{"symbol":"BTC","ts":0,"price":1}"#; 100_001].join("\n");
    assert_eq!(daemon.post("/api/prices", &lines).status, 413);
    assert_eq!(daemon.get("/api/signals").json()["count"], 0);
    assert_eq!(daemon.stop().code(), Some(0));
}

/// A bar sent again (a retry) is answered as taken and not applied twice;
/// another bar at a time the symbol already has is refused, and nothing of
/// its batch is applied.
#[test]
fn a_bar_sent_again_is_a_no_op_and_another_bar_at_a_taken_time_is_refused_with_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    let daemon = Daemon::start(dir.path(), &[]);
    const T2: &str = "2024-01-01T00:02:00Z";
    let first = bar("BTC", T0, 100.0, 101.0, 99.0);
    let batch = format!("[{}, {}]", bar("BTC", T1, 100.0, 101.0, 99.0), bar("ETH", T0, 10.0, 11.0, 9.0));
    for body in [&first, &batch] {
        let answer = daemon.post("/api/prices", body);
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    assert_eq!(metric(&daemon, "siglearn_prices_total"), 3);
    // The answers were lost, say: both are sent again.
    for (body, count) in [(&first, 1), (&batch, 2)] {
        let retry = daemon.post("/api/prices", body);
        assert_eq!(retry.status, 200, "a retry is safe: {}", retry.body);
        assert_eq!(retry.json()["accepted"], count);
    }
    assert_eq!(metric(&daemon, "siglearn_prices_total"), 3, "nothing applied twice");
    // Another bar at T1, in a batch with a new bar at T2: refused, naming both times; T2 is not taken.
    let changed = format!("[{}, {}]", bar("BTC", T2, 100.0, 101.0, 99.0), bar("BTC", T1, 100.0, 102.0, 99.0));
    let refused = daemon.post("/api/prices", &changed);
    assert_eq!(refused.status, 409, "{}", refused.body);
    let detail = &refused.json()["details"][0];
    assert_eq!((detail["index"].as_u64(), detail["field"].as_str()), (Some(1), Some("ts")), "{detail}");
    let reason = detail["reason"].as_str().unwrap();
    assert!(reason.contains("BTC") && reason.contains(T1) && reason.contains(T2), "{reason}");
    let conflict = daemon.post("/api/prices", &bar("BTC", T1, 100.0, 102.0, 99.0));
    assert_eq!(conflict.status, 409, "{}", conflict.body);
    let reason = conflict.json()["details"][0]["reason"].as_str().unwrap().to_owned();
    assert!(reason.contains("BTC") && reason.contains(T1) && reason.contains("unchanged"), "{reason}");
    // A bar before the symbol's last price, never taken: out of time order.
    let late = daemon.post("/api/prices", &bar("BTC", "2023-12-31T23:59:00Z", 100.0, 101.0, 99.0));
    assert_eq!(late.status, 422, "{}", late.body);
    let reason = late.json()["details"][0]["reason"].as_str().unwrap().to_owned();
    assert!(reason.contains("2023-12-31T23:59:00Z") && reason.contains(T1), "{reason}");
    // Two bars at one time in one batch, as in a price file: refused.
    let twice = format!("[{}, {}]", bar("ETH", T1, 10.0, 11.0, 9.0), bar("ETH", T1, 10.0, 11.0, 9.0));
    assert_eq!(daemon.post("/api/prices", &twice).status, 422);
    assert_eq!(metric(&daemon, "siglearn_prices_total"), 3, "none of the refused batches was applied");
    assert_eq!(daemon.post("/api/prices", &bar("BTC", T2, 100.0, 101.0, 99.0)).status, 200);
    assert_eq!(
        metric(&daemon, "siglearn_prices_total"),
        4,
        "T2 is new: it was not taken with the refused batch"
    );
    assert_eq!(daemon.stop().code(), Some(0));
}

/// A write names one host, and every name it gives passes the check: a
/// second Host header, or a request line in absolute form naming another
/// host, is refused.
#[test]
fn a_write_naming_a_second_host_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    let daemon = Daemon::start(dir.path(), &[]);
    let body = signal("a", "BTC", T0, "");
    let json = ("Content-Type", "application/json");
    let (status, answer) =
        raw(&daemon, "/api/signals", &[json, ("Host", "localhost"), ("Host", "evil.example")], &body);
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["details"][0]["field"], "Host");
    let (status, answer) =
        raw(&daemon, "http://evil.example/api/signals", &[json, ("Host", "localhost")], &body);
    assert_eq!(status, 403, "{answer}");
    assert!(answer["details"][0]["reason"].as_str().unwrap().contains("evil.example"), "{answer}");
    assert_eq!(daemon.get("/api/signals").json()["count"], 0, "none was taken");
    let own = daemon.base.clone();
    let (status, answer) = raw(&daemon, &format!("{own}/api/signals"), &[json, ("Host", "localhost")], &body);
    assert_eq!(status, 200, "an absolute form naming this daemon is taken: {answer}");
    assert_eq!(daemon.stop().code(), Some(0));
}

/// No id or name a user supplies may hold a control character or a
/// bidirectional override (a terminal acts on them, a newline forges a log
/// line): over HTTP every such field is refused, naming it and the byte.
#[test]
fn a_control_character_in_any_posted_id_or_name_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    let daemon = Daemon::start(dir.path(), &[]);
    let batch = format!(
        "[{}, {}, {}, {}, {}, {}, {}]",
        signal("ok", "BTC", T0, ""),
        signal(r"inj\n2026-11-30T00:00:00.000000Z  INFO siglearn::daemon: FORGED", "BTC", T0, ""),
        signal("s2", r"EVIL\u001b[2J", T0, ""),
        signal("s3", "BTC", T0, r#","pattern":"pat\u001b]0;pwned\u0007\rOVERWRITE""#),
        signal("s4", "BTC", T0, r#","regime":"trend\u202edne""#),
        signal("s5", "BTC", T0, r#","heads":{"rsi\r":0.5}"#),
        signal("s6", "BTC", T0, r#","indicators":{"\u009b2J":1}"#),
    );
    let answer = daemon.post("/api/signals", &batch);
    assert_eq!(answer.status, 422, "{}", answer.body);
    let details = answer.json()["details"].as_array().unwrap().clone();
    let found: Vec<(u64, &str)> =
        details.iter().map(|d| (d["index"].as_u64().unwrap(), d["field"].as_str().unwrap())).collect();
    assert_eq!(
        found,
        [(1, "signal_id"), (2, "symbol"), (3, "pattern"), (4, "regime"), (5, "heads"), (6, "indicators")]
    );
    let rule = "ids and names may not hold control characters or bidirectional overrides";
    assert_eq!(
        details[1]["reason"],
        format!("symbol contains a control character (U+001B) at byte 4; {rule}"),
        "{}",
        answer.body
    );
    assert_eq!(
        details[0]["reason"],
        format!("signal_id contains a control character (U+000A) at byte 3; {rule}")
    );
    assert_eq!(
        details[3]["reason"],
        format!("regime contains a control character (U+202E) at byte 5; {rule}")
    );
    assert_eq!(daemon.get("/api/signals").json()["count"], 0, "none of the batch was taken");
    // Prices: the symbol of a bar and of a tick.
    let prices = format!(
        r#"[{}, {{"symbol":"a\u2066b","ts":"{T0}","price":1}}]"#,
        bar(r"EVIL\u001b[2J", T0, 100.0, 101.0, 99.0)
    );
    let answer = daemon.post("/api/prices", &prices);
    assert_eq!(answer.status, 422, "{}", answer.body);
    let details = answer.json()["details"].as_array().unwrap().clone();
    let found: Vec<(u64, &str)> =
        details.iter().map(|d| (d["index"].as_u64().unwrap(), d["field"].as_str().unwrap())).collect();
    assert_eq!(found, [(0, "symbol"), (1, "symbol")]);
    assert_eq!(
        details[1]["reason"],
        format!("symbol contains a control character (U+2066) at byte 1; {rule}")
    );
    assert_eq!(metric(&daemon, "siglearn_prices_total"), 0);
    assert_eq!(daemon.stop().code(), Some(0));
}

/// Whether `bytes` hold a character a terminal acts on or that reorders text.
fn holds_control(bytes: &[u8]) -> bool {
    String::from_utf8_lossy(bytes)
        .chars()
        .any(|c| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c) || c == '\u{2066}')
}

const CANDLES: &str = "symbol,ts,open,high,low,close,volume\n\
    BTC,2024-01-01T00:00:00Z,100,101,99,100,1\n\
    BTC,2024-01-01T00:01:00Z,100,112,99,111,1\n";
const SIGNAL_COLUMNS: &str =
    "signal_id,symbol,side,entry_ts,entry_price,take_profit,stop_loss,max_hold_minutes";

/// The CSV files refuse what the HTTP API refuses, each row naming its
/// line and field, and the errors quote no such character raw.
#[test]
fn a_control_character_in_any_id_or_name_of_a_file_is_refused_naming_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let rule = "ids and names may not hold control characters or bidirectional overrides";
    std::fs::write(dir.path().join("candles.csv"), CANDLES).unwrap();
    let signals = format!(
        "{SIGNAL_COLUMNS},pattern,regime\n\
         ok,BTC,long,{T0},100,110,95,,,\n\
         \"a\nb\",BTC,long,{T0},100,110,95,,,\n\
         c,EVIL\u{1b}[2J,long,{T0},100,110,95,,,\n\
         d,BTC,long,{T0},100,110,95,,pat\u{7},\n\
         e,BTC,long,{T0},100,110,95,,,trend\u{202e}dne\n"
    );
    std::fs::write(dir.path().join("signals.csv"), signals).unwrap();
    let names =
        format!("{SIGNAL_COLUMNS},head.h\u{1b}[31m,ind.\u{202e}i\nok,BTC,long,{T0},100,110,95,,0.5,1\n");
    std::fs::write(dir.path().join("names.csv"), names).unwrap();
    let candles = format!("{CANDLES}EVIL\u{1b}[2J,2024-01-01T00:00:00Z,100,101,99,100,1\n");
    std::fs::write(dir.path().join("bad_candles.csv"), candles).unwrap();
    let cases: [(&str, &str, &[&str]); 3] = [
        (
            "candles.csv",
            "signals.csv",
            &[
                "signals.csv:3: signal_id: signal_id contains a control character (U+000A) at byte 1;",
                "signals.csv:5: symbol: symbol contains a control character (U+001B) at byte 4;",
                "signals.csv:6: pattern: pattern contains a control character (U+0007) at byte 3;",
                "signals.csv:7: regime: regime contains a control character (U+202E) at byte 5;",
            ],
        ),
        (
            "candles.csv",
            "names.csv",
            &[
                "names.csv:2: heads: heads has a name (\"h\\u{1b}[31m\") that contains a control character (U+001B) \
                 at byte 1;",
                "names.csv:2: indicators: indicators has a name (\"\\u{202e}i\") that contains a control character \
                 (U+202E) at byte 0;",
            ],
        ),
        (
            "bad_candles.csv",
            "signals.csv",
            &["bad_candles.csv:4: symbol: symbol contains a control character (U+001B) at byte 4;"],
        ),
    ];
    for (candles, signals, expected) in cases {
        let output = siglearn(dir.path(), &["replay", "--candles", candles, "--signals", signals]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{signals}: {stderr}");
        for line in expected {
            assert!(stderr.contains(line), "{line}\nnot in:\n{stderr}");
        }
        assert!(stderr.contains(rule), "{stderr}");
        assert!(!holds_control(&output.stderr) && !holds_control(&output.stdout), "{stderr:?}");
    }
}

/// A store an older version wrote may hold names with control characters:
/// `report` shows them escaped (`\u{1b}`) and sends none to the terminal.
#[test]
fn report_escapes_the_control_characters_of_names_an_older_version_stored() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("candles.csv"), CANDLES).unwrap();
    let signals = format!("{SIGNAL_COLUMNS},head.h\nok,BTC,long,{T0},100,110,95,,1\n");
    std::fs::write(dir.path().join("signals.csv"), signals).unwrap();
    let output = siglearn(
        dir.path(),
        &["replay", "--candles", "candles.csv", "--signals", "signals.csv", "--db", "s.db"],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let store = rusqlite::Connection::open(dir.path().join("s.db")).unwrap();
    // What an older version took: ESC, BEL, CR, a newline (inside the
    // JSON of heads, escaped there as \n) and a bidi override.
    store
        .execute_batch(
            r#"UPDATE signals SET symbol = 'EVIL' || char(27) || '[2J',
                   pattern = 'pat' || char(27) || ']0;pwned' || char(7) || char(13) || 'OVER',
                   regime = 'up' || char(8238) || 'nwod',
                   heads = '{"h\n": 1.0}'"#,
        )
        .unwrap();
    drop(store);
    let output = siglearn(dir.path(), &["report", "--db", "s.db"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(!holds_control(&output.stdout), "{stdout:?}");
    for shown in [r"EVIL\u{1b}[2J", r"pat\u{1b}]0;pwned\u{7}\u{d}OVER", r"up\u{202e}nwod", r"  h\u{a} "] {
        assert!(stdout.contains(shown), "{shown} not in:\n{stdout}");
    }
}

/// The bars a daemon took, and each symbol's last price time, are in the
/// store with the batch that took them: after a restart (SIGTERM or kill
/// -9) a bar sent again is still a no-op, a changed one still 409, and a
/// price before the symbol's last one still 422.
#[test]
fn bars_and_last_price_times_taken_hold_their_rules_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    const T2: &str = "2024-01-01T00:02:00Z";
    let batch = format!("[{}, {}]", bar("BTC", T0, 100.0, 101.0, 99.0), bar("BTC", T1, 100.0, 101.0, 99.0));
    let tick = |ts: &str| format!(r#"{{"symbol":"ETH","ts":"{ts}","price":10}}"#);
    let daemon = Daemon::start(dir.path(), &[]);
    for body in [batch.clone(), tick(T1)] {
        let answer = daemon.post("/api/prices", &body);
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    assert_eq!(daemon.stop().code(), Some(0));

    let daemon = Daemon::start(dir.path(), &[]);
    let retry = daemon.post("/api/prices", &batch);
    assert_eq!((retry.status, retry.json()["accepted"].as_u64()), (200, Some(2)), "{}", retry.body);
    assert_eq!(metric(&daemon, "siglearn_prices_total"), 0, "a retry after the restart is not applied again");
    for changed in [bar("BTC", T1, 100.0, 102.0, 99.0), bar("BTC", T0, 100.0, 101.0, 98.0)] {
        let refused = daemon.post("/api/prices", &changed);
        assert_eq!(refused.status, 409, "{changed}: {}", refused.body);
        let reason = refused.json()["details"][0]["reason"].as_str().unwrap().to_owned();
        assert!(reason.contains("already has a bar") && reason.contains("unchanged"), "{reason}");
    }
    let late = daemon.post("/api/prices", &bar("BTC", "2023-12-31T23:59:00Z", 100.0, 101.0, 99.0));
    assert_eq!(late.status, 422, "{}", late.body);
    let reason = late.json()["details"][0]["reason"].as_str().unwrap().to_owned();
    assert!(
        reason.contains("2023-12-31T23:59:00Z") && reason.contains(&format!("last price at {T1}")),
        "{reason}"
    );
    let early_tick = daemon.post("/api/prices", &tick(T0));
    assert_eq!(early_tick.status, 422, "a tick's time is remembered too: {}", early_tick.body);
    assert_eq!(metric(&daemon, "siglearn_prices_total"), 0);
    let next = daemon.post("/api/prices", &bar("BTC", T2, 100.0, 101.0, 99.0));
    assert_eq!(next.status, 200, "{}", next.body);
    daemon.crash();

    let daemon = Daemon::start(dir.path(), &[]);
    let changed = daemon.post("/api/prices", &bar("BTC", T2, 100.0, 105.0, 99.0));
    assert_eq!(changed.status, 409, "taken just before a kill -9: {}", changed.body);
    let late = daemon.post("/api/prices", &bar("BTC", T1, 100.0, 101.0, 99.0));
    assert_eq!(late.status, 200, "T1 is still remembered: its retry is a no-op: {}", late.body);
    let between = daemon.post("/api/prices", &format!(r#"{{"symbol":"BTC","ts":"{T1}","price":100}}"#));
    assert_eq!(between.status, 422, "a tick before T2: {}", between.body);
    assert_eq!(metric(&daemon, "siglearn_prices_total"), 0);
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn a_daemon_whose_stdout_and_stderr_are_closed_pipes_serves_on_through_a_logged_reload() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline"]);
    // Its announcement line and every log line fail to be written. Before,
    // the first info line after start (a hot reload) panicked the engine's
    // thread inside the logging library: healthz 500, writes 503, the port
    // and the lock held, and SIGTERM exit 101.
    let daemon = Daemon::start_with_closed_output(dir.path());
    assert_eq!(daemon.get("/healthz").status, 200);
    let script = folder.join("baseline.rhai");
    let code = std::fs::read_to_string(&script).unwrap();
    std::fs::write(&script, format!("{code}\n// edited\n")).unwrap();
    daemon.wait_for("/api/strategies", Duration::from_secs(30), |d| {
        d["strategies"]["baseline"]["version"] == 2
    });
    assert_eq!(daemon.get("/healthz").status, 200);
    let answer = daemon.post("/api/signals", &signal("a", "BTC", T0, ""));
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(daemon.stop().code(), Some(0));
}
