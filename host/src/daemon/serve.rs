//! The HTTP server: the accept loop and each connection, with the limits a
//! daemon open to hostile clients needs.
//!
//! A connection has `daemon.header_read_timeout_ms` to send a request's
//! line and headers (hyper's timer; it also closes an idle kept-alive
//! connection), and a handler `daemon.body_read_timeout_ms` to read its
//! body ([`super::api`]). At most `daemon.max_connections` are served at
//! once; past it, the newest [`HEALTH_RESERVE`] connections are served
//! `GET /healthz` only (anything else: 503), one request each with a short
//! header timeout, and a new one closes the oldest of them. So a client
//! that holds every connection it can never keeps a supervisor from
//! learning the daemon is alive, and file descriptors stay bounded by the
//! configuration, not by the clients. An accept error (no file
//! descriptor left) waits, longer each time up to a second, instead of
//! spinning. SIGINT or SIGTERM stops accepting and lets each connection
//! finish its request.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::AbortHandle;

use crate::config::DaemonConfig;

/// Connections served past `daemon.max_connections`, for `GET /healthz` only.
pub(crate) const HEALTH_RESERVE: usize = 16;
/// The header timeout of a connection of the health reserve: a health
/// check sends its request at once.
const RESERVE_HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// How connections are served: the timeouts and limits of `[daemon]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Serving {
    pub header_timeout: Duration,
    pub max_connections: usize,
    /// Connections past `max_connections` served `GET /healthz` only; at least 1.
    pub reserve: usize,
}

impl Serving {
    pub(crate) fn new(daemon: &DaemonConfig) -> Self {
        Serving {
            header_timeout: Duration::from_millis(daemon.header_read_timeout_ms),
            max_connections: daemon.max_connections,
            reserve: HEALTH_RESERVE,
        }
    }
}

/// Serves `router` on `listener` until `stop` resolves, then waits for the
/// connections to finish their requests.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    serving: Serving,
    stop: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(serving.max_connections));
    // The tasks of the reserve's connections, oldest first.
    let mut reserved: VecDeque<AbortHandle> = VecDeque::new();
    let health_only = router.clone().layer(middleware::from_fn(health_only));
    // Told to stop: a send on `stopping`; every connection holds `closed`
    // until it ends, so its sender's `closed()` waits for them all.
    let (stopping, stop_seen) = watch::channel(());
    let (close, closed) = watch::channel(());
    let mut backoff = Backoff::default();
    // Whether the last connection found every slot taken, and how many of
    // the reserve's were closed for a newer one since.
    let (mut full, mut evicted) = (false, 0_u64);
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                backoff.reset();
                stream
            }
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                let wait = backoff.next();
                if wait == Backoff::FIRST {
                    tracing::error!(%error, "cannot accept a connection; waiting before the next try");
                }
                tokio::select! {
                    () = tokio::time::sleep(wait) => continue,
                    () = &mut stop => break,
                }
            }
        };
        let permit = slots.clone().try_acquire_owned().ok();
        let (service, header_timeout, keep_alive) = match permit {
            Some(_) => (router.clone(), serving.header_timeout, true),
            None => (health_only.clone(), serving.header_timeout.min(RESERVE_HEADER_TIMEOUT), false),
        };
        match (&permit, full) {
            (Some(_), true) => {
                tracing::warn!(evicted, "serving below daemon.max_connections again");
                (full, evicted) = (false, 0);
            }
            (None, false) => {
                tracing::warn!(
                    max_connections = serving.max_connections,
                    "daemon.max_connections are served; new connections answer GET /healthz only, \
                     each closing the oldest of the newest {}",
                    serving.reserve
                );
                full = true;
            }
            _ => {}
        }
        if permit.is_none() {
            reserved.retain(|task| !task.is_finished());
            if reserved.len() >= serving.reserve.max(1) {
                if let Some(oldest) = reserved.pop_front() {
                    oldest.abort();
                }
                evicted += 1;
            }
        }
        let (stop_seen, closed) = (stop_seen.clone(), closed.clone());
        let reserve = permit.is_none();
        let task = tokio::spawn(async move {
            connection(stream, service, header_timeout, keep_alive, stop_seen).await;
            drop((permit, closed));
        });
        if reserve {
            reserved.push_back(task.abort_handle());
        }
    }
    drop(listener);
    let _ = stopping.send(());
    drop(closed);
    close.closed().await;
}

/// Serves one connection until it ends or the daemon stops.
async fn connection(
    stream: TcpStream,
    service: Router,
    header_timeout: Duration,
    keep_alive: bool,
    mut stop: watch::Receiver<()>,
) {
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(keep_alive);
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(conn);
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(error) = ended {
        tracing::debug!(%error, "a connection ended with an error");
    }
}

/// A connection of the health reserve answers `GET /healthz` only.
async fn health_only(request: Request, next: Next) -> Response {
    if request.uri().path() == "/healthz" {
        return next.run(request).await;
    }
    let error = "the daemon serves daemon.max_connections connections already; only GET /healthz is \
                 answered on this one; retry later";
    let body = serde_json::json!({ "error": error, "details": [{ "reason": error }] });
    let mut response = (axum::http::StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    headers.insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
    response
}

/// An accept error that concerns one connection only (the client gave up
/// before it was accepted): the next accept may succeed at once.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// The waits between failed accepts: 10 ms, doubled each time up to a
/// second, back to 10 ms once one succeeds.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MOST: Duration = Duration::from_secs(1);

    fn next(&mut self) -> Duration {
        let wait = Self::FIRST.saturating_mul(1 << self.failures.min(7)).min(Self::MOST);
        self.failures = self.failures.saturating_add(1);
        wait
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::Instant;

    /// A router with `/healthz` and `/work`, served on a free port with
    /// `serving`; the address.
    async fn server(serving: Serving) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router =
            Router::new().route("/healthz", get(|| async { "ok" })).route("/work", get(|| async { "done" }));
        tokio::spawn(serve(listener, router, serving, std::future::pending()));
        address
    }

    /// Everything the server sends on `client` until it closes, and when it
    /// closed; an hour on the paused clock means it never did.
    async fn until_closed(client: &mut TcpStream) -> (String, Duration) {
        let started = Instant::now();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(3600), client.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "the connection was still open after an hour");
        (String::from_utf8_lossy(&answer).into_owned(), started.elapsed())
    }

    async fn send(address: std::net::SocketAddr, request: &str) -> TcpStream {
        let mut client = TcpStream::connect(address).await.unwrap();
        client.write_all(request.as_bytes()).await.unwrap();
        client
    }

    const TEN_SECONDS: Serving =
        Serving { header_timeout: Duration::from_secs(10), max_connections: 8, reserve: 1 };

    #[tokio::test(start_paused = true)]
    async fn a_request_whose_headers_never_end_is_closed_once_the_header_timeout_elapses() {
        let address = server(TEN_SECONDS).await;
        let mut client = send(address, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n").await;
        let (_, after) = until_closed(&mut client).await;
        // Closed at the timeout (the timer's millisecond rounding aside), not before.
        assert!(after >= Duration::from_secs(10) && after < Duration::from_secs(11), "{after:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_kept_alive_connection_is_closed_once_the_header_timeout_elapses() {
        let address = server(TEN_SECONDS).await;
        let mut client = send(address, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
        let (answer, after) = until_closed(&mut client).await;
        assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"), "{answer}");
        assert!(after >= Duration::from_secs(10) && after < Duration::from_secs(11), "{after:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_connection_limit_health_is_answered_and_a_new_connection_closes_the_oldest_of_the_reserve()
     {
        let address = server(Serving { max_connections: 1, ..TEN_SECONDS }).await;
        // The one slot: a client that never ends its headers.
        let _holder = send(address, "GET /work HTTP/1.1\r\nHost: localhost\r\n").await;
        // The reserve (one connection) answers health...
        let mut health = send(address, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
        let (answer, _) = until_closed(&mut health).await;
        assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"), "{answer}");
        // ...and nothing else, closing after one answer.
        let mut work = send(address, "GET /work HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
        let (answer, _) = until_closed(&mut work).await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.contains("only GET /healthz is answered"), "{answer}");
        // A client holding the reserve too loses its oldest connection there to a new one.
        let mut reserve_holder = send(address, "GET /healthz HTTP/1.1\r\n").await;
        let mut late = send(address, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
        let (answer, _) = until_closed(&mut late).await;
        assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"), "{answer}");
        let (answer, after) = until_closed(&mut reserve_holder).await;
        assert_eq!(answer, "", "closed without an answer");
        assert!(after < Duration::from_secs(1), "closed at once, not after a timeout: {after:?}");
    }

    #[test]
    fn failed_accepts_wait_10_ms_doubling_to_a_second_and_from_10_ms_again_after_a_success() {
        let mut backoff = Backoff::default();
        let waits: Vec<u64> = (0..10).map(|_| backoff.next().as_millis() as u64).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        backoff.reset();
        assert_eq!(backoff.next(), Duration::from_millis(10));
    }

    #[test]
    fn the_serving_limits_are_the_daemon_config_s() {
        let daemon =
            DaemonConfig { header_read_timeout_ms: 1500, max_connections: 9, ..DaemonConfig::default() };
        assert_eq!(
            Serving::new(&daemon),
            Serving {
                header_timeout: Duration::from_millis(1500),
                max_connections: 9,
                reserve: HEALTH_RESERVE
            }
        );
    }
}
