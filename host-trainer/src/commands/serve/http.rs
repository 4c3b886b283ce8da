//! The HTTP/1 server under `serve` (hyper on a one-thread tokio runtime), and every limit
//! that keeps a client from stalling or exhausting it:
//!
//! 1. at most [`MAX_CONNECTIONS`] connections at once (more wait in the kernel's backlog),
//!    each with `TCP_NODELAY` (no 40 ms Nagle/delayed-ACK stall on kept-alive connections);
//! 2. a request head within [`HEADER_TIMEOUT`] (also how long a kept-alive connection may
//!    idle), of at most [`MAX_HEADER_BYTES`] and [`MAX_HEADERS`] lines (else 431 and close);
//! 3. a body within [`BODY_TIMEOUT`] (else 408), of at most [`MAX_BODY`] bytes: a longer
//!    `Content-Length` is refused (413) before a byte is read, and a body is held in memory
//!    only as its bytes arrive, under [`BODY_BUDGET`] for all bodies at once;
//! 4. a response write that makes no progress for [`WRITE_TIMEOUT`] ends the connection;
//! 5. the work on a body (decoding, preprocessing, inference) runs on at most
//!    [`DECODE_THREADS`] threads beside the one serving connections, after reserving its
//!    worst-case working memory ([`preprocess::bytes_footprint`]) from [`DECODE_BUDGET`]
//!    (a request that alone needs more is refused with 413).
//!
//! So the page and the model file are answered while any number of slow, lying or huge
//! clients are connected, and the process's peak memory stays under 1 GiB plus twice the
//! model file (its bytes and its weights): [`DECODE_BUDGET`], twice [`BODY_BUDGET`] (a body
//! may hold twice its bytes while it grows), [`MAX_CONNECTIONS`] × 2 × [`MAX_HEADER_BYTES`] of
//! connection buffers, and the program.
//!
//! [`preprocess::bytes_footprint`]: nn_data::preprocess::bytes_footprint

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Incoming};
use hyper::header::{CACHE_CONTROL, CONNECTION, CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 256;
/// Longest request head: the request line and all header lines (bytes).
pub const MAX_HEADER_BYTES: usize = 64 << 10;
/// Most header lines in a request.
pub const MAX_HEADERS: usize = 100;
/// Time to send a whole request head, counted from the first byte of a connection or the end
/// of the previous response (so also the idle limit of a kept-alive connection).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Time to send a whole request body, counted from the end of its head.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a response write may make no progress (a client that stopped reading).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request body (bytes): a PNG of a phone photo fits, a flood does not.
pub const MAX_BODY: usize = 16 << 20;
/// Bytes of request bodies held at once, as their `Content-Length`s claim (or [`MAX_BODY`]
/// for a chunked one); a body waits for room before it is read.
pub const BODY_BUDGET: usize = 64 << 20;
/// Working memory of the requests being decoded, preprocessed and classified at once
/// (bytes): enough for any one image within `preprocess`'s limits (at most about 580 MB).
pub const DECODE_BUDGET: u64 = 640 << 20;
/// Threads that decode and classify request bodies.
pub const DECODE_THREADS: usize = 4;

/// What a route answers: a status, a content type and a body.
pub struct Answer {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
    /// The request's body was not read to its end: the connection closes after this answer,
    /// as the next request's start is unknown.
    pub close: bool,
}

impl Answer {
    /// 200 with `body`.
    pub fn ok(content_type: &'static str, body: Bytes) -> Self {
        Answer {
            status: StatusCode::OK,
            content_type,
            body,
            close: false,
        }
    }

    /// A refusal: `status` and `{"error": message}`.
    pub fn error(status: StatusCode, message: &str) -> Self {
        let body = serde_json::json!({ "error": message }).to_string();
        Answer {
            status,
            content_type: "application/json",
            body: Bytes::from(body),
            close: false,
        }
    }

    /// This answer, closing the connection after it.
    pub fn closing(self) -> Self {
        Answer {
            close: true,
            ..self
        }
    }
}

/// The routes: a request with its body not yet read becomes an answer. A route reads the
/// body with [`read_body`], or refuses it with [`refuse_body`].
pub trait Routes: Send + Sync + 'static {
    /// The answer to `request`.
    fn answer(self: Arc<Self>, request: Request<Incoming>) -> impl Future<Output = Answer> + Send;
}

/// Serves `routes` on `listener` until the process ends.
pub async fn serve<R: Routes>(listener: TcpListener, routes: Arc<R>) {
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let bodies = Arc::new(Semaphore::new(BODY_BUDGET >> 10));
    loop {
        let Ok(slot) = Arc::clone(&connections).acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of file descriptors, or a connection reset before it was accepted: wait a
            // little rather than spin, and go on.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (routes, bodies) = (Arc::clone(&routes), Arc::clone(&bodies));
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let (routes, bodies) = (Arc::clone(&routes), Arc::clone(&bodies));
                async move {
                    let mut request = request;
                    request.extensions_mut().insert(BodyBudget(bodies));
                    Ok::<_, std::convert::Infallible>(respond(routes.answer(request).await))
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_HEADER_BYTES)
                .max_headers(MAX_HEADERS)
                .serve_connection(TokioIo::new(WriteDeadline::new(stream)), service);
            // Whatever ended the connection (the client, a limit, a timeout), only it ends.
            let _ = connection.await;
            drop(slot);
        });
    }
}

/// The shared [`BODY_BUDGET`], in KiB permits, as a request extension for [`read_body`].
#[derive(Clone)]
struct BodyBudget(Arc<Semaphore>);

fn respond(answer: Answer) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(answer.body));
    *response.status_mut() = answer.status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(answer.content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if answer.close {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Reads `request`'s body within [`MAX_BODY`], [`BODY_TIMEOUT`] and [`BODY_BUDGET`], then
/// hands it and the budget it holds (to be dropped when the body is) to `work`.
///
/// # Errors
/// An answer to send instead: 413 for a body over [`MAX_BODY`] (claimed or sent), 408 for
/// one too slow, 400 for one cut short.
pub async fn read_body(request: Request<Incoming>) -> Result<(Vec<u8>, BodyHold), Answer> {
    let Some(BodyBudget(budget)) = request.extensions().get::<BodyBudget>().cloned() else {
        return Err(Answer::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "no body budget",
        ));
    };
    let mut body = request.into_body();
    // A `Content-Length` is a claim: checked against the limit here, and against the bytes
    // that arrive below, but never allocated up front.
    let claimed = body.size_hint().exact().unwrap_or(MAX_BODY as u64);
    if claimed > MAX_BODY as u64 {
        return Err(refuse_body(body, too_large()));
    }
    let kib = u32::try_from(claimed.div_ceil(1024).max(1)).unwrap_or(u32::MAX);
    let read = async {
        let hold = budget
            .acquire_many_owned(kib)
            .await
            .map_err(|_| Answer::error(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))?;
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                Answer::error(StatusCode::BAD_REQUEST, &format!("the body: {e}")).closing()
            })?;
            if let Ok(data) = frame.into_data() {
                if bytes.len() + data.len() > MAX_BODY {
                    return Err(too_large().closing());
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok((bytes, BodyHold(hold)))
    };
    match tokio::time::timeout(BODY_TIMEOUT, read).await {
        Ok(result) => result,
        Err(_) => Err(Answer::error(
            StatusCode::REQUEST_TIMEOUT,
            &format!(
                "the body did not arrive within {} s",
                BODY_TIMEOUT.as_secs()
            ),
        )
        .closing()),
    }
}

/// A body's share of [`BODY_BUDGET`], given back when dropped.
pub struct BodyHold(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

fn too_large() -> Answer {
    Answer::error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the body is over {MAX_BODY} bytes"),
    )
}

/// `answer` to a request whose body is not wanted. What an honest client sends of it is read
/// and dropped (at most 4 × [`MAX_BODY`] within [`BODY_TIMEOUT`]), so it reads the answer
/// rather than a reset connection; then the connection closes.
pub fn refuse_body(mut body: Incoming, answer: Answer) -> Answer {
    if body.is_end_stream() {
        return answer;
    }
    tokio::spawn(async move {
        let discard = async {
            let mut left = 4 * MAX_BODY;
            while let Some(Ok(frame)) = body.frame().await {
                let n = frame.data_ref().map_or(0, Bytes::len);
                left = left.saturating_sub(n);
                if left == 0 {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(BODY_TIMEOUT, discard).await;
    });
    answer.closing()
}

/// A TCP stream whose writes fail once one has waited [`WRITE_TIMEOUT`] for the client.
struct WriteDeadline {
    stream: TcpStream,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl WriteDeadline {
    fn new(stream: TcpStream) -> Self {
        WriteDeadline {
            stream,
            stalled: None,
        }
    }

    /// `poll` of a write, with the deadline armed while it is pending.
    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match poll(Pin::new(&mut self.stream), cx) {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let sleep = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(WRITE_TIMEOUT)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client stopped reading",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncRead for WriteDeadline {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteDeadline {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.guard(cx, |s, cx| s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.guard(cx, |s, cx| s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.guard(cx, |s, cx| s.poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.guard(cx, |s, cx| s.poll_shutdown(cx))
    }
}
