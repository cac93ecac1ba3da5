//! What an unauthenticated client can make the host hold: request bodies
//! are read only after the key was checked and only up to each route's
//! limit, a request head must arrive in time, and connections are capped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;

use crate::harness::{TestHost, eventually, sim_config};

/// This process's resident memory, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The status code of the answer `read` carries, or 0 if the connection
/// ended without one.
async fn status_of(read: &mut OwnedReadHalf) -> u16 {
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Zeros to upload, shared by every upload.
static CHUNK: [u8; 1 << 20] = [0; 1 << 20];

/// Starts uploading `len` bytes as a connector with `key`; the status of the
/// answer, read while the body is still being sent.
async fn upload(addr: &str, key: &str, len: usize, sent: Arc<AtomicU64>) -> u16 {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST /api/admin/connectors HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {key}\r\n\
         content-type: application/wasm\r\ncontent-length: {len}\r\n\r\n"
    );
    write.write_all(head.as_bytes()).await.unwrap();
    let sending = tokio::spawn(async move {
        let mut left = len;
        while left > 0 {
            let n = left.min(CHUNK.len());
            if write.write_all(&CHUNK[..n]).await.is_err() {
                break;
            }
            sent.fetch_add(n as u64, Ordering::Relaxed);
            left -= n;
        }
        // Dropping it would close the sending side, and the host closes a
        // connection whose client stopped sending before it was answered.
        write
    });
    let status = status_of(&mut read).await;
    sending.abort();
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_with_a_wrong_key_are_refused_before_their_bodies_are_read() {
    const UPLOADS: usize = 12;
    const SIZE: usize = 60 << 20;
    let mut t = TestHost::start_with(sim_config(1, 1), |c| {
        // This test is about memory, not about guessing keys.
        c.sign_in_throttle.max_failures = 1000;
    })
    .await;
    let addr = t.url.trim_start_matches("http://").to_owned();
    let before = rss_kib();
    let peak = Arc::new(AtomicU64::new(before));
    let sampling = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let sent = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let uploads: Vec<_> = (0..UPLOADS)
        .map(|_| {
            let (addr, sent) = (addr.clone(), sent.clone());
            tokio::spawn(async move { upload(&addr, "sy_admin_wrong", SIZE, sent).await })
        })
        .collect();
    for upload in uploads {
        assert_eq!(upload.await.unwrap(), 401);
    }
    let took = started.elapsed();
    sampling.abort();
    let grew_mib = peak.load(Ordering::Relaxed).saturating_sub(before) / 1024;
    let sent_mib = sent.load(Ordering::Relaxed) >> 20;
    assert!(
        took < Duration::from_secs(5),
        "the refusals took {took:?} ({sent_mib} MiB were sent)"
    );
    assert!(
        grew_mib < 50,
        "the host's memory grew by {grew_mib} MiB for {UPLOADS} refused uploads ({sent_mib} MiB were sent)"
    );
    assert!(
        sent_mib < ((UPLOADS * SIZE) >> 20) as u64 / 4,
        "{sent_mib} MiB were sent: the host read the bodies"
    );
    // The right key still uploads (and is refused for the content only).
    let status = upload(&addr, crate::harness::ADMIN_KEY, 1 << 20, sent).await;
    assert_eq!(status, 422);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_form_is_refused() {
    let mut t = TestHost::start(sim_config(1, 1)).await;
    let big = "x".repeat(1 << 20);
    let answer = t
        .post_form(
            "/session/api-key",
            &[
                ("session_id", "0"),
                ("provider", "hubspot"),
                ("api_key", &big),
            ],
        )
        .await;
    assert_eq!(answer.status(), 413);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_that_does_not_arrive_in_time_is_closed() {
    let mut t = TestHost::start_with(sim_config(1, 1), |c| {
        c.connections.header_read_timeout = Duration::from_secs(1);
    })
    .await;
    let addr = t.url.trim_start_matches("http://").to_owned();
    for (what, sent) in [
        (
            "half a request head",
            &b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: "[..],
        ),
        ("nothing", &b""[..]),
    ] {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        stream.write_all(sent).await.unwrap();
        let started = Instant::now();
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            let mut buf = [0u8; 1024];
            while let Ok(1..) = stream.read(&mut buf).await {}
        })
        .await;
        assert!(
            closed.is_ok(),
            "a connection that sent {what} was kept open"
        );
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "closed too early"
        );
    }
    // A request that arrives in time is served.
    assert_eq!(t.call("GET", "/healthz", None, None).await.0, 200);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_answered_503() {
    let mut t = TestHost::start_with(sim_config(1, 1), |c| {
        c.connections.max_connections = 2;
    })
    .await;
    let addr = t.url.trim_start_matches("http://").to_owned();
    let first = TcpStream::connect(&addr).await.unwrap();
    let _second = TcpStream::connect(&addr).await.unwrap();
    let third = TcpStream::connect(&addr).await.unwrap();
    let (mut read, _write) = third.into_split();
    let answer = tokio::time::timeout(Duration::from_secs(5), status_of(&mut read)).await;
    assert_eq!(answer.ok(), Some(503), "the connection beyond the cap");

    drop(first);
    eventually(Duration::from_secs(5), "a free connection", || async {
        let (mut read, mut write) = TcpStream::connect(&addr).await.unwrap().into_split();
        let request = b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
        write.write_all(request).await.unwrap();
        status_of(&mut read).await == 200
    })
    .await;
    t.stop().await;
}
