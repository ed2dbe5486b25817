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
//! spinning. What the HTTP layer refuses before the API sees a request (a
//! request hyper cannot parse, headers that never end) is counted in
//! [`HttpCounters`] for `/metrics`. SIGINT or SIGTERM stops accepting and
//! lets each connection finish its request, for [`SHUTDOWN_GRACE`] at
//! most: a client that stopped reading its answer, or is still sending
//! headers, does not hold the stop.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// How long a stop waits for the open connections to finish.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

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

/// File descriptors the daemon needs besides its connections (the store,
/// its lock and WAL, the watcher, libraries, logs), with room to spare.
const OTHER_FILES: u64 = 64;

/// The warning to give when `max_connections` (plus the reserve and
/// [`OTHER_FILES`]) do not fit under the process's open-file limit, read
/// from `limits` (the text of `/proc/self/limits`).
pub(crate) fn open_file_warning(max_connections: usize, limits: &str) -> Option<String> {
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    let soft: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    let needed = u64::try_from(max_connections)
        .unwrap_or(u64::MAX)
        .saturating_add(HEALTH_RESERVE as u64 + OTHER_FILES);
    (needed > soft).then(|| {
        format!(
            "daemon.max_connections = {max_connections} needs about {needed} open files but the limit is {soft}: \
             at the limit, accepting and reloading fail; lower daemon.max_connections or raise the limit \
             (ulimit -n, LimitNOFILE= in a systemd unit)"
        )
    })
}

/// What the server counts, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct HttpCounters {
    /// Requests hyper could not parse (two `Content-Length` headers, a NUL
    /// in a header, a bad request line): answered a bare 400 before routing.
    malformed: AtomicU64,
    /// Connections closed because a request's headers did not arrive in time.
    header_timeouts: AtomicU64,
    /// Connections of the health reserve closed for a newer one.
    reserve_closed: AtomicU64,
    /// Connections open now.
    open: AtomicU64,
}

impl HttpCounters {
    /// The Prometheus text exposition of the counters.
    pub(crate) fn prometheus(&self) -> String {
        let mut out = String::new();
        for (name, kind, help, value) in [
            (
                "http_malformed_requests_total",
                "counter",
                "Requests the HTTP parser refused (bare 400) before any endpoint saw them.",
                &self.malformed,
            ),
            (
                "http_header_timeouts_total",
                "counter",
                "Connections closed: headers not sent in time.",
                &self.header_timeouts,
            ),
            (
                "http_reserve_closed_total",
                "counter",
                "Health-reserve connections closed for a newer one at daemon.max_connections.",
                &self.reserve_closed,
            ),
            ("http_connections", "gauge", "Connections open.", &self.open),
        ] {
            let value = value.load(Ordering::Relaxed);
            out.push_str(&format!(
                "# HELP siglearn_{name} {help}\n# TYPE siglearn_{name} {kind}\nsiglearn_{name} {value}\n"
            ));
        }
        out
    }
}

/// Serves `router` on `listener` until `stop` resolves, then waits for the
/// connections to finish their requests.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    serving: Serving,
    counters: Arc<HttpCounters>,
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
                counters.reserve_closed.fetch_add(1, Ordering::Relaxed);
            }
        }
        let (stop_seen, closed, counters) = (stop_seen.clone(), closed.clone(), Arc::clone(&counters));
        let reserve = permit.is_none();
        let task = tokio::spawn(async move {
            let open = Open::new(&counters.open);
            let ended = connection(stream, service, header_timeout, keep_alive, stop_seen).await;
            if let Err(error) = ended {
                if error.is_parse() || error.is_parse_too_large() {
                    counters.malformed.fetch_add(1, Ordering::Relaxed);
                } else if error.is_timeout() {
                    counters.header_timeouts.fetch_add(1, Ordering::Relaxed);
                }
                tracing::debug!(%error, "a connection ended with an error");
            }
            drop((open, permit, closed));
        });
        if reserve {
            reserved.push_back(task.abort_handle());
        }
    }
    drop(listener);
    let _ = stopping.send(());
    drop(closed);
    if tokio::time::timeout(SHUTDOWN_GRACE, close.closed()).await.is_err() {
        let open = counters.open.load(Ordering::Relaxed);
        tracing::warn!(open, "connections still open {SHUTDOWN_GRACE:?} after the stop are closed");
    }
}

/// One open connection in [`HttpCounters::open`], counted out when dropped
/// (also when its task is aborted).
struct Open<'a>(&'a AtomicU64);

impl<'a> Open<'a> {
    fn new(open: &'a AtomicU64) -> Self {
        open.fetch_add(1, Ordering::Relaxed);
        Open(open)
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves one connection until it ends or the daemon stops.
async fn connection(
    stream: TcpStream,
    service: Router,
    header_timeout: Duration,
    keep_alive: bool,
    mut stop: watch::Receiver<()>,
) -> hyper::Result<()> {
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(keep_alive);
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(conn);
    tokio::select! {
        ended = conn.as_mut() => ended,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
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
        served(serving).await.0
    }

    /// [`server`], and its counters.
    async fn served(serving: Serving) -> (std::net::SocketAddr, Arc<HttpCounters>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let counters = Arc::new(HttpCounters::default());
        let router =
            Router::new().route("/healthz", get(|| async { "ok" })).route("/work", get(|| async { "done" }));
        tokio::spawn(serve(listener, router, serving, Arc::clone(&counters), std::future::pending()));
        (address, counters)
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
        let (address, counters) = served(Serving { max_connections: 1, ..TEN_SECONDS }).await;
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
        assert_eq!(counters.reserve_closed.load(Ordering::Relaxed), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn what_the_http_layer_refuses_before_routing_is_counted() {
        let (address, counters) = served(TEN_SECONDS).await;
        // Two lengths: hyper's bare 400.
        let mut twice = send(
            address,
            "POST /work HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
        )
        .await;
        let (answer, _) = until_closed(&mut twice).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        let mut slow = send(address, "GET /healthz HTTP/1.1\r\n").await;
        until_closed(&mut slow).await;
        let text = counters.prometheus();
        for line in [
            "siglearn_http_malformed_requests_total 1",
            "siglearn_http_header_timeouts_total 1",
            "siglearn_http_connections 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from {text}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_waits_for_a_connection_that_never_ends_its_headers_only_the_grace() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = Serving { header_timeout: Duration::from_secs(3600), ..TEN_SECONDS };
        let counters = Arc::new(HttpCounters::default());
        let server = tokio::spawn(serve(listener, Router::new(), serving, counters, async {
            let _ = stopped.await;
        }));
        let _slow = send(address, "GET / HTTP/1.1\r\n").await;
        tokio::task::yield_now().await;
        let started = Instant::now();
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(3600), server).await.unwrap().unwrap();
        // The grace (10 s), not the hour of the header timeout.
        assert_eq!(started.elapsed().as_secs(), SHUTDOWN_GRACE.as_secs());
    }

    #[test]
    fn max_connections_past_the_open_file_limit_less_the_reserve_and_other_files_is_warned_of() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            1024                 524288               files     \n";
        // 944 + 16 (reserve) + 64 (other files) = 1024 fits; 945 does not.
        assert_eq!(open_file_warning(944, limits), None);
        let warning = open_file_warning(945, limits).unwrap();
        assert!(
            warning.starts_with(
                "daemon.max_connections = 945 needs about 1025 open files but the limit is 1024"
            )
        );
        let unlimited = limits.replace("1024  ", "unlimited");
        assert_eq!(open_file_warning(1_000_000, &unlimited), None, "no number, no warning");
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
