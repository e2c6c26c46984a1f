//! The tests' HTTP/1.1 servers (upstreams, the origin service stand-in,
//! pages for Chromium), on hyper.
//!
//! Why not tiny_http, which the tests used before: its connection pool can
//! queue a new connection behind busy ones and never serve it while those
//! stay open. Envoy keeps its upstream connections open, so a request on
//! such a connection hung until the client gave up (seen in CI in the
//! 10,000-origin load test; reproduced with tiny_http alone: 8 connections
//! opened at once, up to 4 never answered). Here every connection is its
//! own task.

use std::convert::Infallible;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;

/// What a handler sees of a request.
pub struct Request {
    pub method: String,
    /// The request target as sent: path and query.
    pub url: String,
    /// Names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A handler's answer. `Content-Type: text/plain; charset=UTF-8` unless it
/// sets one.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Answer only after this long (a slow service).
    pub delay: Duration,
}

impl Response {
    pub fn new(status: u16, body: impl Into<String>) -> Response {
        Response { status, headers: Vec::new(), body: body.into(), delay: Duration::ZERO }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn delay(mut self, delay: Duration) -> Response {
        self.delay = delay;
        self
    }
}

/// A running server. Dropped, it stops: the listener and every open
/// connection close, and clients see a refused connection, as from a
/// service that is down.
pub struct Server {
    pub port: u16,
    /// Dropping the sender ends the server's task (its receiver resolves).
    _running: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    /// Keeps the server for the rest of the test process.
    pub fn forever(self) -> u16 {
        let port = self.port;
        std::mem::forget(self);
        port
    }
}

/// Serves `handler` on 127.0.0.1 (a free port), one thread for the server.
pub fn serve(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Server {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a test server");
    let port = listener.local_addr().expect("local address").port();
    listener.set_nonblocking(true).expect("non-blocking listener");
    let (running, stopped) = tokio::sync::oneshot::channel::<()>();
    let handler = Arc::new(handler);
    thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            let accept = async {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        // Out of file descriptors, say: wait rather than spin.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    let handler = handler.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            let handler = handler.clone();
                            async move { Ok::<_, Infallible>(answer(&*handler, req).await) }
                        });
                        let io = hyper_util::rt::TokioIo::new(stream);
                        let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                    });
                }
            };
            tokio::select! {
                _ = accept => {}
                _ = stopped => {}
            }
        });
        // Dropping the runtime drops every connection task: the sockets close.
    });
    Server { port, _running: running }
}

async fn answer(
    handler: &(impl Fn(&Request) -> Response + ?Sized),
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let request = Request {
        method: req.method().as_str().to_string(),
        url: req.uri().to_string(),
        headers: req.headers().iter().map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect(),
    };
    let reply = handler(&request);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut builder = hyper::Response::builder().status(reply.status);
    if !reply.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type")) {
        builder = builder.header("content-type", "text/plain; charset=UTF-8");
    }
    for (n, v) in &reply.headers {
        builder = builder.header(n.as_str(), v.as_str());
    }
    builder.body(Full::new(Bytes::from(reply.body))).expect("a valid test response")
}
