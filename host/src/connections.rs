//! Accepting HTTP connections, with the limits that must hold before any
//! handler runs. The API speaks HTTP/1.1 only, so a connection carries one
//! request at a time and the cap on open connections is also the cap on
//! requests in flight; a connection beyond it is answered 503 and closed. A
//! request head must arrive within the header read timeout, so a client that
//! trickles its headers (or sends nothing) cannot hold a connection open; an
//! idle kept-alive connection is closed after the same time. The read buffer,
//! which must hold a whole request head, is bounded, so the memory of a
//! connection that has not been authenticated is too.
//!
//! Each request carries its peer's address as [`ConnectInfo`] (the sign-in
//! throttle counts failures per address).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// A request head must arrive within this (on a kept-alive connection:
    /// the next request's head).
    pub header_read_timeout: Duration,
    /// Connections open at once; one more is answered 503.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 2048,
        }
    }
}

/// The largest request head (request line and headers) read.
const READ_BUFFER_BYTES: usize = 64 << 10;

/// What a connection beyond the cap is told before it is closed.
const AT_CAPACITY: &str = r#"{"success":false,"message":"The host is serving as many connections as it allows; try again shortly."}"#;

/// Serves `router` on `listener` until `shutdown` completes; then stops
/// accepting and waits for the requests in flight to finish.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(());
    let mut connections = JoinSet::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(READ_BUFFER_BYTES);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            connections.spawn(refuse(stream));
            continue;
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            tower::ServiceExt::oneshot(router.clone(), request)
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let mut stopping = stopping.clone();
        connections.spawn(async move {
            let _permit = permit;
            let mut connection = std::pin::pin!(connection);
            let served = tokio::select! {
                served = connection.as_mut() => served,
                _ = stopping.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(err) = served {
                tracing::debug!(%peer, %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stop.send(());
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Errors of one connection (the client went away) are no reason to pause;
/// others (out of file descriptors) are: accepting again at once would spin.
async fn accept_failed(err: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    ) {
        return;
    }
    tracing::warn!(%err, "could not accept a connection; pausing for a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Answers 503 and closes, reading (a little of) what the client sent so
/// that closing does not reset the connection before it reads the answer.
async fn refuse(mut stream: TcpStream) {
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{AT_CAPACITY}",
        AT_CAPACITY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        let mut read = 0;
        while read < READ_BUFFER_BYTES {
            match stream.read(&mut sink).await? {
                0 => break,
                n => read += n,
            }
        }
        std::io::Result::Ok(())
    })
    .await;
}
