//! Accepting connections, within limits: a client that sends half a request, drips one byte
//! a second, stays idle, or stops reading its answer is dropped after a time; at most so many
//! connections are open at once (the rest wait in the kernel's queue, holding no file
//! descriptor of ours); a request body must arrive within a time.
//!
//! axum's own `serve` has none of these knobs, so connections are served here with hyper's
//! HTTP/1 connection, whose header-read timeout covers both a request's head arriving and an
//! idle keep-alive connection's next one.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Sleep;

/// How long and how many, for every connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The most connections open at once.
    pub connections: usize,
    /// The longest a request's head may take to arrive, and an idle connection may wait for
    /// its next request.
    pub idle: Duration,
    /// The longest a request's body may take to arrive, and an answer may wait for the client
    /// to read it.
    pub transfer: Duration,
}

impl Limits {
    /// Connections for this process's file-descriptor limit: half of what is left after a
    /// margin for files (models, pictures, data), between 8 and 128.
    pub fn connections_for_this_process() -> usize {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct it is given, which lives on this stack.
        let known = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
        let descriptors = if known { limit.rlim_cur } else { 256 };
        (descriptors.saturating_sub(64) / 2).clamp(8, 128) as usize
    }

    /// The most live event streams open at once: a quarter of the connections, at least one.
    pub fn event_streams(&self) -> usize {
        (self.connections / 4).max(1)
    }
}

/// Serves `router` on `listener` within `limits` until `stop` ends; then stops accepting and
/// lets the connections under way finish (for up to the transfer time).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stop: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.connections));
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        // Wait for a free slot before accepting: waiting clients stay in the kernel's queue.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut stop => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of descriptors or a connection reset before it was accepted: try again
                // shortly rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(Timed::new(stream, limits.transfer));
        let service = TowerToHyperService::new(router.clone());
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.idle)
            .max_buf_size(64 * 1024)
            .serve_connection(io, service);
        let watched = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = watched.await;
            drop(slot);
        });
    }
    let _ = tokio::time::timeout(limits.transfer, graceful.shutdown()).await;
}

/// A TCP stream whose writes fail once they have waited longer than `limit` for the client to
/// read: an answer (or a live event stream) to a client that stopped reading does not hold its
/// connection forever.
struct Timed {
    stream: TcpStream,
    limit: Duration,
    /// Set while a write waits; the deadline it must finish by.
    waiting: Option<Pin<Box<Sleep>>>,
}

impl Timed {
    fn new(stream: TcpStream, limit: Duration) -> Self {
        Timed {
            stream,
            limit,
            waiting: None,
        }
    }

    /// What a write that returned `result` means, given how long writes have waited.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        if result.is_ready() {
            self.waiting = None;
            return result;
        }
        let limit = self.limit;
        let deadline = self
            .waiting
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Timed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Timed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.watch(cx, result)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let result = Pin::new(&mut self.stream).poll_flush(cx);
        self.watch(cx, result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.watch(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Reads a request's whole body (at most `max` bytes) within `limit`: a client that drips its
/// body gets a 408 instead of holding a handler forever.
pub async fn body_deadline(
    axum::extract::State(state): axum::extract::State<Arc<super::AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let limit = state.limits.transfer;
    let (parts, body) = request.into_parts();
    let max = super::http::MAX_BODY_BYTES;
    let bytes = match tokio::time::timeout(limit, axum::body::to_bytes(body, max)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            let error = e.into_inner();
            return if error.is::<http_body_util::LengthLimitError>() {
                super::http::ApiError::new(
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the request body is larger than {max} bytes"),
                )
            } else {
                super::http::ApiError::bad(format!(
                    "the request body could not be read: {}",
                    scratchgrad::text::elide(&error.to_string(), 200)
                ))
            }
            .into_response();
        }
        Err(_) => {
            return super::http::ApiError::new(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} seconds",
                    limit.as_secs()
                ),
            )
            .into_response()
        }
    };
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}
