//! A small W3C WebDriver client over reqwest, driving Debian's Chromium
//! through its `chromedriver`: enough for the browser tests (navigate, find,
//! click, type, read, run a script, screenshots, the console log), with every
//! wait a condition polled until a deadline.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a wait for something on a page lasts before the test fails.
pub const WAIT: Duration = Duration::from_secs(30);

fn find_binary(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        return Some(PathBuf::from(p)).filter(|p| p.exists());
    }
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// Chromium and its driver, or a failure that says how to install them.
fn binaries() -> (PathBuf, PathBuf) {
    let chromium = find_binary(
        "CHROMIUM",
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
    );
    let driver = find_binary(
        "CHROMEDRIVER",
        &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
    );
    match (chromium, driver) {
        (Some(c), Some(d)) => (c, d),
        _ => panic!(
            "The browser tests need Chromium and ChromeDriver, and they are not installed. \
             Install Debian's packages as root: `apt-get update && apt-get install -y chromium chromium-driver` \
             (`cargo xtask test` installs them when it runs as root), or point CHROMIUM and CHROMEDRIVER at the binaries."
        ),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
    /// Where screenshots go.
    pub shots: PathBuf,
    pub name: String,
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium with a fresh profile.
    pub async fn start(name: &str) -> Browser {
        let (chromium, chromedriver) = binaries();
        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} could not start: {e}", chromedriver.display()));
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let ready = http
                .get(format!("{base}/status"))
                .send()
                .await
                .ok()
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ready {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not answer on {base} within {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("a profile directory");
        let args = vec![
            "--headless".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--window-size=1280,900".into(),
            "--lang=en-US".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
            "goog:loggingPrefs": { "browser": "ALL" },
            "timeouts": { "pageLoad": 30_000, "script": 30_000, "implicit": 0 },
        } } });
        let answer: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("chromedriver answers JSON");
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("Chromium did not start: {answer}"))
            .to_owned();
        let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/browser-screenshots");
        std::fs::create_dir_all(&shots).expect("the screenshot directory");
        let shots = shots.canonicalize().unwrap_or(shots);
        Browser {
            driver,
            base,
            session,
            http,
            _profile: profile,
            shots,
            name: name.to_owned(),
        }
    }

    async fn command(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body.unwrap_or_else(|| json!({}))),
        };
        let response = request.send().await.map_err(|e| e.to_string())?;
        let ok = response.status().is_success();
        let answer: Value = response.json().await.map_err(|e| e.to_string())?;
        if ok {
            Ok(answer["value"].clone())
        } else {
            Err(format!(
                "{}: {}",
                answer["value"]["error"].as_str().unwrap_or("error"),
                answer["value"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .lines()
                    .next()
                    .unwrap_or_default()
            ))
        }
    }

    async fn must(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.command(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    pub async fn goto(&self, url: &str) {
        self.must("POST", "/url", Some(json!({ "url": url }))).await;
    }

    pub async fn url(&self) -> String {
        self.must("GET", "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn find_now(&self, css: &str) -> Option<String> {
        self.command(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        )
        .await
        .ok()
        .and_then(|v| v[ELEMENT].as_str().map(str::to_owned))
    }

    /// The element `css` names, once it is on the page.
    pub async fn find(&self, css: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(id) = self.find_now(css).await {
                return id;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{css} did not appear on {} within {WAIT:?}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn exists(&self, css: &str) -> bool {
        self.find_now(css).await.is_some()
    }

    /// Clicks `css` once it is there and clickable.
    pub async fn click(&self, css: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let id = self.find(css).await;
            match self
                .command("POST", &format!("/element/{id}/click"), None)
                .await
            {
                Ok(_) => return,
                // Not yet clickable (covered, animating): try again.
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("clicking {css}: {e}"),
            }
        }
    }

    /// Types into `css` (after clearing it).
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.must("POST", &format!("/element/{id}/clear"), None)
            .await;
        self.must(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Sends `text` to `css` without clearing (file inputs).
    pub async fn send_keys(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.must(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    pub async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let id = self.find(css).await;
        self.must("GET", &format!("/element/{id}/attribute/{name}"), None)
            .await
            .as_str()
            .map(str::to_owned)
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub async fn eval(&self, script: &str, args: Value) -> Value {
        self.must(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// Waits until `script` returns true on the page.
    pub async fn wait_for(&self, what: &str, script: &str, args: Value) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let now = self
                .command(
                    "POST",
                    "/execute/sync",
                    Some(json!({ "script": script, "args": args.clone() })),
                )
                .await;
            if now.as_ref().is_ok_and(|v| v == &json!(true)) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what} on {} ({now:?})",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page's URL satisfies `check`.
    pub async fn wait_for_url(&self, what: &str, check: impl Fn(&str) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let url = self.url().await;
            if check(&url) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; the browser is at {url}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the visible text of `css` contains `needle`.
    pub async fn wait_for_text(&self, css: &str, needle: &str) {
        self.wait_for(
            &format!("{needle:?} in {css}"),
            "const el = document.querySelector(arguments[0]); return !!el && el.innerText.includes(arguments[1]);",
            json!([css, needle]),
        )
        .await;
    }

    pub async fn set_size(&self, width: u32, height: u32) {
        self.must(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    async fn png(&self) -> Option<Vec<u8>> {
        let data = self.command("GET", "/screenshot", None).await.ok()?;
        base64::engine::general_purpose::STANDARD
            .decode(data.as_str()?)
            .ok()
    }

    /// Saves a screenshot of the whole page (the window grown to its
    /// height) as `<shots>/<name>.png`, at `width` pixels wide.
    pub async fn snap_at(&self, name: &str, width: u32) -> PathBuf {
        self.set_size(width, 900).await;
        let height = self
            .eval(
                "return Math.ceil(Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0));",
                json!([]),
            )
            .await
            .as_u64()
            .unwrap_or(900)
            .clamp(600, 4000) as u32;
        // The window's height includes the browser's own bars: add them.
        let bars = self
            .eval(
                "return Math.max(0, window.outerHeight - window.innerHeight);",
                json!([]),
            )
            .await
            .as_u64()
            .unwrap_or(0) as u32;
        self.set_size(width, height + bars).await;
        let path = self.shots.join(format!("{name}.png"));
        if let Some(png) = self.png().await {
            std::fs::write(&path, png).expect("writing a screenshot");
        }
        self.set_size(1280, 900).await;
        path
    }

    /// A desktop screenshot of the page.
    pub async fn snap(&self, name: &str) -> PathBuf {
        self.snap_at(name, 1280).await
    }

    /// A phone-sized screenshot of the page.
    pub async fn snap_phone(&self, name: &str) -> PathBuf {
        self.snap_at(&format!("{name}-phone"), 390).await
    }

    /// The browser console's entries since the last call (level, message).
    pub async fn console(&self) -> Vec<(String, String)> {
        let entries = match self
            .command("POST", "/se/log", Some(json!({ "type": "browser" })))
            .await
        {
            Ok(v) => v,
            Err(_) => self
                .command("POST", "/log", Some(json!({ "type": "browser" })))
                .await
                .unwrap_or(Value::Null),
        };
        entries
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        (
                            e["level"].as_str().unwrap_or_default().to_owned(),
                            e["message"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Console errors from pages of `origin` (other origins, like a
    /// provider's consent page, are not ours to judge).
    pub async fn console_errors(&self, origin: &str) -> Vec<String> {
        self.console()
            .await
            .into_iter()
            .filter(|(level, message)| {
                level == "SEVERE" && (message.contains(origin) || !message.contains("http"))
            })
            .map(|(_, m)| m)
            .collect()
    }

    /// Saves a screenshot after a failure; its path.
    pub async fn failure_shot(&self) -> PathBuf {
        let path = self.shots.join(format!("FAILED-{}.png", self.name));
        if let Some(png) = self.png().await {
            let _ = std::fs::write(&path, png);
        }
        path
    }

    pub async fn quit(mut self) {
        let _ = self.command("DELETE", "", None).await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
