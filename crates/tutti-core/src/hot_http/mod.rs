//! The hot path's own HTTP/1.1 server: the plain-HTTP listener of a server that runs the
//! Tracker is served by event loops (one thread per core, `mio`), not by hyper's task per
//! connection. Every message sent carries the open and click URLs, so a large send makes
//! them the busiest requests the system gets, and each must wait until its event is on
//! disk before it is answered.
//!
//! A loop reads what every ready connection sent, answers the requests for the hot paths,
//! and hands the events of the whole pass to the component in one batch. The answers that
//! wait for those events are held and written out together when the batch is durable: one
//! wake-up of the loop for all of them, where hyper would wake one task per request. That
//! difference is most of what `bench/tracker` measures.
//!
//! Everything else goes to hyper: a connection whose request is not for a hot path, or
//! that a hot path should not answer itself (a body, an upgrade, HTTP/2, anything the
//! parser refuses), is handed over with the bytes read so far, and hyper serves it from
//! then on exactly as if it had accepted it.

mod conn;
mod event_loop;
mod request;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::http::StatusCode;

pub use request::HotRequest;

/// What a component answers on its hot paths.
pub trait HotPaths: Send + Sync + 'static {
    /// What one pass of a loop gathers for [`HotPaths::commit`] (the events to record).
    type Batch: Default + Send + 'static;

    /// The whole paths answered here (`/trk/click`).
    fn paths(&self) -> &[&'static str];

    /// Answers a `GET` or `HEAD` request for `paths()[request.route]`. Returns whether the
    /// answer must wait until `batch`, once committed, is durable.
    fn answer(&self, request: &HotRequest<'_>, reply: &mut Reply, batch: &mut Self::Batch) -> bool;

    /// Makes a pass's batch durable; the answers waiting for it go out when `durable` is
    /// dropped (whether the batch was written or not: the component reports a failure).
    fn commit(&self, batch: Self::Batch, durable: Durable);

    /// Counts an answer as it goes out, `took` after the loop read its request (request
    /// metrics).
    fn answered(&self, route: usize, head: bool, status: StatusCode, took: Duration);
}

/// The head of an answer, filled in by [`HotPaths::answer`]. The loop adds `content-length`,
/// `date` and, when it closes the connection, `connection: close`.
pub struct Reply {
    pub status: StatusCode,
    headers: Vec<u8>,
    body: &'static [u8],
}

impl Reply {
    fn new() -> Reply {
        Reply {
            status: StatusCode::OK,
            headers: Vec::with_capacity(512),
            body: b"",
        }
    }

    fn clear(&mut self) {
        self.status = StatusCode::OK;
        self.headers.clear();
        self.body = b"";
    }

    /// Adds a header. The value must be a valid header value (the caller holds it as an
    /// `http::HeaderValue` or a constant).
    pub fn header(&mut self, name: &str, value: &[u8]) {
        self.headers.extend_from_slice(name.as_bytes());
        self.headers.extend_from_slice(b": ");
        self.headers.extend_from_slice(value);
        self.headers.extend_from_slice(b"\r\n");
    }

    pub fn body(&mut self, body: &'static [u8]) {
        self.body = body;
    }
}

/// Held by the component while a pass's batch is written; dropping it releases the
/// answers that wait for the batch (and those of every earlier pass of the loop: batches
/// are made durable in the order they are committed).
pub struct Durable {
    signal: Arc<Signal>,
    pass: u64,
}

impl Drop for Durable {
    fn drop(&mut self) {
        self.signal.durable.fetch_max(self.pass, Ordering::SeqCst);
        // A loop that is not waiting for events sees the pass at the end of its turn; one
        // that is waiting checked `durable` just before (see `EventLoop::run`), so one of
        // the two sees the other's store. A loop that has stopped needs no wake-up.
        if self.signal.waiting.load(Ordering::SeqCst) {
            let _ = self.signal.waker.wake();
        }
    }
}

/// How the loop learns that passes are durable, or that it is to stop.
struct Signal {
    durable: AtomicU64,
    stop: AtomicBool,
    /// How long a stopping loop waits for the answers it holds (milliseconds).
    stop_wait_ms: AtomicU64,
    /// Whether the loop is (about to be) waiting for events.
    waiting: AtomicBool,
    waker: mio::Waker,
}

/// A connection hyper is to serve from now on: `read` holds the bytes the loop read and
/// did not answer (the start of the request hyper is to answer).
pub struct HandOff {
    pub stream: std::net::TcpStream,
    pub peer: SocketAddr,
    pub read: Vec<u8>,
}

/// Starts a component's hot paths on a listener (see [`starter`]).
pub type Starter = Box<
    dyn FnOnce(
            std::net::TcpListener,
            tokio::sync::mpsc::UnboundedSender<HandOff>,
        ) -> std::io::Result<HotServer>
        + Send,
>;

/// What starts `paths` on a listener, with one loop per core.
pub fn starter<H: HotPaths>(paths: Arc<H>) -> Starter {
    Box::new(move |listener, hand_off| {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        HotServer::start(listener, paths, cores, hand_off)
    })
}

/// The running loops.
pub struct HotServer {
    signals: Vec<Arc<Signal>>,
    threads: Vec<JoinHandle<()>>,
}

impl HotServer {
    /// Serves `listener` with `loops` event loops; connections for hyper go to `hand_off`.
    pub fn start<H: HotPaths>(
        listener: std::net::TcpListener,
        paths: Arc<H>,
        loops: usize,
        hand_off: tokio::sync::mpsc::UnboundedSender<HandOff>,
    ) -> std::io::Result<HotServer> {
        listener.set_nonblocking(true)?;
        let mut signals = Vec::new();
        let mut threads = Vec::new();
        for n in 0..loops.max(1) {
            let event_loop =
                event_loop::EventLoop::new(listener.try_clone()?, paths.clone(), hand_off.clone())?;
            signals.push(event_loop.signal());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("tutti-hot-http-{n}"))
                    .spawn(move || event_loop.run())?,
            );
        }
        Ok(HotServer { signals, threads })
    }

    /// Stops accepting, answers the requests already read (their events still become
    /// durable first, for up to `wait`), closes the connections and returns when every
    /// loop has ended.
    pub fn stop(self, wait: Duration) {
        for signal in &self.signals {
            let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            signal.stop_wait_ms.store(ms, Ordering::Release);
            signal.stop.store(true, Ordering::Release);
            let _ = signal.waker.wake();
        }
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests;
