//! Starting the real `siglearn run` process on port 0 and speaking HTTP to it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running daemon; killed when dropped.
pub(crate) struct Daemon {
    pub(crate) child: Child,
    pub(crate) base: String,
    agent: ureq::Agent,
}

/// An HTTP answer: status, headers (names in lower case) and body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Answer {
    fn of(mut response: ureq::http::Response<ureq::Body>) -> Answer {
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or_default().to_owned()))
            .collect();
        let body = response.body_mut().read_to_string().unwrap();
        Answer { status: response.status().as_u16(), headers, body }
    }

    /// The value of the header `name` (lower case), if it was sent.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// The siglearn binary built for these tests.
pub(crate) fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_siglearn-under-test"))
}

/// Copies shipped scripts into `dir/scripts`.
pub(crate) fn scripts(dir: &Path, names: &[&str]) -> PathBuf {
    let folder = dir.join("scripts");
    std::fs::create_dir_all(&folder).unwrap();
    for name in names {
        let source = format!("{}/../scripts/{name}.rhai", env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(source, folder.join(format!("{name}.rhai"))).unwrap();
    }
    folder
}

impl Daemon {
    /// Starts `siglearn run` in `dir` (its store and scripts folder) with
    /// `args`, and waits until it listens.
    pub(crate) fn start(dir: &Path, args: &[&str]) -> Daemon {
        Self::try_start(dir, args, &[]).unwrap_or_else(|e| panic!("{e}"))
    }

    /// As `start`, with environment variables; the error carries stderr.
    pub(crate) fn try_start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Daemon, String> {
        let mut command = Command::new(binary());
        command.current_dir(dir).arg("run").args(args);
        if !args.contains(&"--listen") {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        command.env_remove("SIGLEARN_TOKEN").env("SIGLEARN_LOG", "info");
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(dir.join("daemon.log")).unwrap()))
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines, found) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("siglearn listening on ") {
                    let _ = lines.send(url.to_owned());
                }
            }
        });
        match found.recv_timeout(Duration::from_secs(30)) {
            Ok(base) => {
                let config = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(30)))
                    .build();
                Ok(Daemon { child, base, agent: config.into() })
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(std::fs::read_to_string(dir.join("daemon.log")).unwrap_or_default())
            }
        }
    }

    /// Starts `siglearn run` in `dir` with stdout and stderr pipes whose
    /// readers are gone (`run 2>&1 | head -c 1` after head quit), logging
    /// at info; its address is read from the store's lock file, which
    /// announces it.
    #[allow(dead_code)]
    pub(crate) fn start_with_closed_output(dir: &Path) -> Daemon {
        let (out_reader, out_writer) = std::io::pipe().unwrap();
        let (err_reader, err_writer) = std::io::pipe().unwrap();
        drop((out_reader, err_reader));
        let child = Command::new(binary())
            .current_dir(dir)
            .args(["run", "--listen", "127.0.0.1:0"])
            .env_remove("SIGLEARN_TOKEN")
            .env("SIGLEARN_LOG", "info")
            .stdout(out_writer)
            .stderr(err_writer)
            .spawn()
            .unwrap();
        let lock = dir.join("siglearn.db.lock");
        let start = Instant::now();
        let base = loop {
            let holder = std::fs::read_to_string(&lock).ok();
            let holder: Option<serde_json::Value> = holder.and_then(|text| serde_json::from_str(&text).ok());
            if let Some(address) = holder.as_ref().and_then(|holder| holder["address"].as_str()) {
                break address.to_owned();
            }
            assert!(start.elapsed() < Duration::from_secs(30), "the daemon announced no address");
            std::thread::sleep(Duration::from_millis(20));
        };
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build();
        Daemon { child, base, agent: config.into() }
    }

    pub(crate) fn get(&self, path: &str) -> Answer {
        Answer::of(self.agent.get(format!("{}{path}", self.base)).call().unwrap())
    }

    pub(crate) fn post(&self, path: &str, body: &str) -> Answer {
        self.post_with(path, body, None)
    }

    pub(crate) fn post_with(&self, path: &str, body: &str, token: Option<&str>) -> Answer {
        let authorization = token.map(|token| format!("Bearer {token}"));
        let headers: Vec<(&str, &str)> =
            authorization.iter().map(|value| ("Authorization", value.as_str())).collect();
        self.post_headers(path, body, &headers)
    }

    /// A JSON post with these headers besides.
    pub(crate) fn post_headers(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request =
            self.agent.post(format!("{}{path}", self.base)).header("Content-Type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Answer::of(request.send(body).unwrap())
    }

    /// Polls `path` until `ready` accepts its JSON, or fails after `limit`.
    pub(crate) fn wait_for(
        &self,
        path: &str,
        limit: Duration,
        ready: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let start = Instant::now();
        loop {
            let answer = self.get(path).json();
            if ready(&answer) {
                return answer;
            }
            assert!(start.elapsed() < limit, "{path} never became ready: {answer}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit status.
    pub(crate) fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status
    }

    /// kill -9: no chance to flush or checkpoint.
    pub(crate) fn crash(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::mem::forget(self);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A valid long signal on `symbol` entering at `entry` (ISO-8601).
pub(crate) fn signal(id: &str, symbol: &str, entry: &str, extra: &str) -> String {
    format!(
        r#"{{"signal_id":"{id}","symbol":"{symbol}","side":"long","entry_ts":"{entry}","entry_price":100,"take_profit":110,"stop_loss":95{extra}}}"#
    )
}

/// A bar of `symbol` at `ts` (ISO-8601).
pub(crate) fn bar(symbol: &str, ts: &str, open: f64, high: f64, low: f64) -> String {
    format!(r#"{{"symbol":"{symbol}","ts":"{ts}","open":{open},"high":{high},"low":{low},"close":{open}}}"#)
}
