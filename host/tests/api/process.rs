//! `switchyard serve` as a child process on a free loopback port, for the
//! tests that kill it or limit it as the operating system would.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_simulators::Simulator;

use crate::harness::{ADMIN_KEY, TOKEN, eventually};

pub struct Process {
    pub url: String,
    child: Child,
    http: reqwest::Client,
}

impl Process {
    pub async fn start(data: &Path, sim: &Simulator) -> Process {
        Self::start_with_args(data, sim, &[]).await
    }

    /// [`Process::start`] with more `switchyard serve` flags.
    pub async fn start_with_args(data: &Path, sim: &Simulator, flags: &[&str]) -> Process {
        // With RUST_LOG set, the host's log shows (as in-process hosts').
        let stdout = match std::env::var_os("RUST_LOG") {
            Some(_) => Stdio::inherit(),
            None => Stdio::null(),
        };
        Self::start_with_output(data, sim, flags, &[], stdout).await
    }

    /// [`Process::start_with_args`] with environment variables `env`, and
    /// the host's log written to `stdout`.
    pub async fn start_with_output(
        data: &Path,
        sim: &Simulator,
        flags: &[&str],
        env: &[(&str, &str)],
        stdout: Stdio,
    ) -> Process {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(data)
            .args(["--connector-base", &format!("hubspot={}", sim.base_url())])
            .args(flags)
            .env("SWITCHYARD_ADMIN_KEY", ADMIN_KEY)
            .envs(env.iter().copied())
            .stdout(stdout)
            .spawn()
            .unwrap();
        let p = Process {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        eventually(Duration::from_secs(60), "the host to serve", || async {
            p.http
                .get(format!("{}/healthz", p.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        p
    }

    /// A new API key of `account`.
    pub async fn api_key(&self, account: &str) -> String {
        let created = self
            .call(
                "POST",
                "/api/admin/keys",
                ADMIN_KEY,
                Some(json!({ "account": account })),
            )
            .await;
        created["api_key"].as_str().unwrap().to_owned()
    }

    /// A CRM session connected to HubSpot with the simulator's token.
    pub async fn connected_session(&self, key: &str) -> String {
        let initiated = self
            .call(
                "POST",
                "/api/session/initiate",
                key,
                Some(json!({ "category": "crm" })),
            )
            .await;
        let session = initiated["session_id"].as_str().unwrap().to_owned();
        let credentials = json!({ "session_id": session, "provider": "hubspot", "credentials": { "access_token": TOKEN } });
        self.call("POST", "/api/session/credentials", key, Some(credentials))
            .await;
        session
    }

    /// Triggers a `pull` or `push` transfer; its id.
    pub async fn trigger(&self, key: &str, kind: &str, body: Value) -> String {
        let answer = self
            .call("POST", &format!("/api/{kind}/transfer"), key, Some(body))
            .await;
        answer["transfer_id"].as_str().unwrap().to_owned()
    }

    /// A request that must succeed; its JSON answer.
    pub async fn call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> Value {
        let (status, body) = self.send(method, path, key, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }

    /// The status of a GET, or `None` while nothing listens (restarting).
    pub async fn http_status(&self, path: &str) -> Option<reqwest::StatusCode> {
        let response = self.http.get(format!("{}{path}", self.url)).send().await;
        response.ok().map(|r| r.status())
    }

    /// A request; its status and JSON answer.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (reqwest::StatusCode, Value) {
        let mut r = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .bearer_auth(key);
        if let Some(body) = body {
            r = r.json(&body);
        }
        let response = r.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// Sets the host's limit on the size of files it writes (`RLIMIT_FSIZE`,
    /// as `ulimit -f`): `Some(0)` makes every write that grows a file fail,
    /// as on a full disk; `None` lifts the limit.
    pub fn set_file_size_limit(&self, bytes: Option<u64>) {
        let limit = libc::rlimit {
            rlim_cur: bytes.unwrap_or(libc::RLIM_INFINITY),
            rlim_max: libc::RLIM_INFINITY,
        };
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: prlimit reads `limit` and writes nothing (old limit not asked).
        let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_FSIZE, &limit, std::ptr::null_mut()) };
        assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
    }

    pub async fn stats(&self, transfer: &str) -> Value {
        self.call(
            "GET",
            &format!("/api/statistics?transfer_id={transfer}"),
            "",
            None,
        )
        .await
    }

    /// Waits for `check` on the transfer's statistics.
    pub async fn until(&self, transfer: &str, what: &str, check: impl Fn(&Value) -> bool) {
        eventually(Duration::from_secs(120), what, || async {
            check(&self.stats(transfer).await)
        })
        .await;
    }

    pub async fn all(&self, key: &str, kind: &str, ty: &str, transfer: &str) -> Vec<Value> {
        let mut rows = Vec::new();
        let mut offset = 0;
        loop {
            let page = self.call("GET", &format!("/api/{kind}/data?endgrate_type={ty}&transfer_id={transfer}&limit=1000&offset={offset}"), key, None).await;
            let got = page["transfer_data"].as_array().unwrap();
            rows.extend(got.iter().cloned());
            if page["meta"].get("next").is_none() {
                return rows;
            }
            offset += got.len();
        }
    }

    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
