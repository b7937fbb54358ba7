//! What the end-to-end tests share: the real `stowage-local` binary on a random port, its
//! tokens, and a small client of its API.
#![allow(dead_code)] // each test file uses its own part

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_stowage-local");

/// A running `stowage-local`; killed when dropped.
pub struct Local {
    child: Child,
    pub url: String,
}

impl Local {
    /// The server's peak resident memory so far (`VmHWM`), in KiB (Linux).
    pub fn peak_memory_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc/<pid>/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    }

    pub fn start(data_dir: &Path) -> Local {
        Self::start_with(data_dir, &[])
    }

    pub fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> Local {
        Self::start_args(data_dir, &[], env)
    }

    /// With extra command-line `args` and environment `env`.
    pub fn start_args(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Local {
        Self::spawn(data_dir, args, env, Stdio::inherit())
    }

    /// Logging to the file `log` (at `RUST_LOG`, default `warn`), as when stderr is redirected.
    pub fn start_logging_to(data_dir: &Path, log: &Path, env: &[(&str, &str)]) -> Local {
        let file = std::fs::File::create(log).expect("a log file");
        Self::spawn(data_dir, &[], env, Stdio::from(file))
    }

    fn spawn(data_dir: &Path, args: &[&str], env: &[(&str, &str)], stderr: Stdio) -> Local {
        let mut child = Command::new(BIN)
            .args(["--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start stowage-local");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines
            .next()
            .expect("a startup line")
            .expect("readable stdout");
        let url = first
            .strip_prefix("stowage-local listening on ")
            .unwrap_or_else(|| panic!("unexpected startup line: {first}"))
            .to_owned();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Local { child, url }
    }

    pub fn stop(mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

pub fn token(data_dir: &Path, tenant: &str, user: &str) -> String {
    token_with(data_dir, tenant, user, &[])
}

pub fn token_with(data_dir: &Path, tenant: &str, user: &str, extra: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["token", "--tenant", tenant, "--user", user, "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .output()
        .expect("run stowage-local token");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "token prints only the token");
    text.trim().to_owned()
}

pub struct Api {
    pub http: reqwest::Client,
    pub url: String,
}

impl Api {
    pub async fn create(&self, token: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/files", self.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    pub async fn get(&self, token: Option<&str>, id: &str) -> (u16, Value) {
        let mut req = self.http.get(format!("{}/files/{id}", self.url));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let response = req.send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// PUTs `bytes` to an upload URL with the headers Stowage's upload URLs are signed with
    /// (`Content-Type`, and `If-None-Match: *`: an upload URL writes once).
    pub async fn put(&self, url: &str, content_type: &str, bytes: &[u8]) -> u16 {
        self.http
            .put(url)
            .header("content-type", content_type)
            .header("if-none-match", "*")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    pub async fn wait_for_status(&self, token: &str, id: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (code, file) = self.get(Some(token), id).await;
            assert_eq!(code, 200, "{file}");
            if file["status"] == status {
                return file;
            }
            assert!(
                Instant::now() < deadline,
                "still {} after 10 s",
                file["status"]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
