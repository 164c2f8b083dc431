//! One event loop: a thread with its own `epoll`, accepting from the shared listener.

use std::collections::VecDeque;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use tokio::sync::mpsc::UnboundedSender;

use super::conn::{Conn, Next, Pass};
use super::{Durable, HandOff, HotPaths, Reply, Signal};

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX);

/// A keep-alive connection with nothing to answer is closed after this long.
const IDLE: Duration = Duration::from_secs(75);
/// A connection whose request head has not been complete for this long is closed
/// (hyper's default header timeout).
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How often idle connections are looked for.
const SWEEP: Duration = Duration::from_secs(5);

/// The value of the `date` header, made once a second.
struct Date {
    second: u64,
    value: String,
}

impl Date {
    fn new() -> Date {
        let mut date = Date {
            second: u64::MAX,
            value: String::new(),
        };
        date.refresh(SystemTime::now());
        date
    }

    fn refresh(&mut self, now: SystemTime) {
        let second = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if second != self.second {
            self.second = second;
            self.value = httpdate::fmt_http_date(now);
        }
    }
}

pub(super) struct EventLoop<H: HotPaths> {
    poll: Poll,
    listener: Option<TcpListener>,
    paths: Arc<H>,
    signal: Arc<Signal>,
    hand_off: UnboundedSender<HandOff>,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    batch: H::Batch,
    batch_waits: bool,
    /// The pass being gathered; passes up to `released` have had their answers sent.
    pass: u64,
    released: u64,
    /// The connections holding answers of each committed pass, oldest first.
    waiting: VecDeque<(u64, Vec<usize>)>,
    /// The connections holding answers of the pass being gathered.
    holding: Vec<usize>,
    reply: Reply,
    date: Date,
    /// Accepting failed (out of file descriptors): try again on the next turn.
    accept_again: bool,
    /// Whether that failure has been logged (once, not every turn).
    accept_warned: bool,
    /// When this turn began.
    now: Instant,
    wall: SystemTime,
}

impl<H: HotPaths> EventLoop<H> {
    pub fn new(
        listener: std::net::TcpListener,
        paths: Arc<H>,
        hand_off: UnboundedSender<HandOff>,
    ) -> io::Result<EventLoop<H>> {
        let poll = Poll::new()?;
        let mut listener = TcpListener::from_std(listener);
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let signal = Arc::new(Signal {
            durable: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            stop_wait_ms: AtomicU64::new(0),
            waiting: AtomicBool::new(false),
            waker: Waker::new(poll.registry(), WAKER)?,
        });
        Ok(EventLoop {
            poll,
            listener: Some(listener),
            paths,
            signal,
            hand_off,
            conns: Vec::new(),
            free: Vec::new(),
            batch: H::Batch::default(),
            batch_waits: false,
            pass: 1,
            released: 0,
            waiting: VecDeque::new(),
            holding: Vec::new(),
            reply: Reply::new(),
            date: Date::new(),
            accept_again: false,
            accept_warned: false,
            now: Instant::now(),
            wall: SystemTime::now(),
        })
    }

    pub fn signal(&self) -> Arc<Signal> {
        self.signal.clone()
    }

    pub fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut swept = Instant::now();
        let mut stop_by = None;
        loop {
            self.signal.waiting.store(true, Ordering::SeqCst);
            let timeout = if self.signal.durable.load(Ordering::SeqCst) > self.released {
                Duration::ZERO
            } else if self.accept_again {
                Duration::from_millis(100)
            } else {
                Duration::from_secs(1)
            };
            let polled = self.poll.poll(&mut events, Some(timeout));
            self.signal.waiting.store(false, Ordering::SeqCst);
            if let Err(e) = polled
                && e.kind() != io::ErrorKind::Interrupted
            {
                tracing::error!("the HTTP event loop cannot wait for its connections: {e}");
                return;
            }
            self.now = Instant::now();
            self.wall = SystemTime::now();
            self.date.refresh(self.wall);
            if self.accept_again {
                self.accept();
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => {}
                    Token(i) => {
                        let readable =
                            event.is_readable() || event.is_read_closed() || event.is_error();
                        if readable
                            && let Some(conn) = self.conns.get_mut(i).and_then(Option::as_mut)
                        {
                            conn.readable = true;
                            conn.read_closed |= event.is_read_closed();
                        }
                        self.drive(i);
                    }
                }
            }
            self.release();
            self.commit();
            if stop_by.is_none() && self.signal.stop.load(Ordering::Acquire) {
                let wait = self.signal.stop_wait_ms.load(Ordering::Acquire);
                stop_by = Some(Instant::now() + Duration::from_millis(wait));
                self.listener = None;
                self.accept_again = false;
                for i in 0..self.conns.len() {
                    if let Some(conn) = self.conns[i].as_mut() {
                        conn.closing = true;
                        self.drive(i);
                    }
                }
                self.commit();
            }
            if let Some(by) = stop_by
                && (self.conns.iter().all(Option::is_none) || Instant::now() >= by)
            {
                return;
            }
            if swept.elapsed() >= SWEEP {
                swept = Instant::now();
                self.sweep();
            }
        }
    }

    fn accept(&mut self) {
        self.accept_again = false;
        let Some(listener) = &self.listener else {
            return;
        };
        loop {
            match listener.accept() {
                Ok((mut stream, peer)) => {
                    if self.accept_warned {
                        self.accept_warned = false;
                        tracing::info!("accepting connections again");
                    }
                    // Answers are whole and small: send each at once.
                    let _ = stream.set_nodelay(true);
                    let i = self.free.pop().unwrap_or_else(|| {
                        self.conns.push(None);
                        self.conns.len() - 1
                    });
                    match self.poll.registry().register(
                        &mut stream,
                        Token(i),
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        Ok(()) => self.conns[i] = Some(Conn::new(stream, peer)),
                        Err(e) => {
                            tracing::warn!("cannot watch a connection from {peer}: {e}");
                            self.free.push(i);
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of file descriptors, most likely: the listener will not say
                    // again that connections wait, so the loop asks again shortly.
                    if !self.accept_warned {
                        self.accept_warned = true;
                        tracing::warn!(
                            "cannot accept a connection: {e} (trying again every 100 ms; \
                             if out of file descriptors, raise the limit, e.g. LimitNOFILE)"
                        );
                    }
                    self.accept_again = true;
                    return;
                }
            }
        }
    }

    fn drive(&mut self, i: usize) {
        let Some(conn) = self.conns.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        let next = conn.drive(&mut Pass {
            paths: &*self.paths,
            reply: &mut self.reply,
            batch: &mut self.batch,
            batch_waits: &mut self.batch_waits,
            pass: self.pass,
            date: self.date.value.as_bytes(),
            now: self.now,
            wall: self.wall,
        });
        if conn.waits_for() == Some(self.pass) && conn.listed != self.pass {
            conn.listed = self.pass;
            self.holding.push(i);
        }
        match next {
            Next::Wait => {}
            Next::Close => {
                self.remove(i);
            }
            Next::HandOff => {
                if let Some(conn) = self.remove(i) {
                    let stream = std::net::TcpStream::from(OwnedFd::from(conn.stream));
                    // If hyper's side has stopped, the connection is closed here.
                    let _ = self.hand_off.send(HandOff {
                        stream,
                        peer: conn.peer,
                        read: conn.input,
                    });
                }
            }
        }
    }

    fn remove(&mut self, i: usize) -> Option<Conn> {
        let mut conn = self.conns.get_mut(i)?.take()?;
        let _ = self.poll.registry().deregister(&mut conn.stream);
        self.free.push(i);
        Some(conn)
    }

    /// Sends the answers of every pass made durable since the last turn.
    fn release(&mut self) {
        let durable = self.signal.durable.load(Ordering::Acquire);
        if durable <= self.released {
            return;
        }
        self.released = durable;
        while self
            .waiting
            .front()
            .is_some_and(|(pass, _)| *pass <= durable)
        {
            let Some((_, conns)) = self.waiting.pop_front() else {
                break;
            };
            for i in conns {
                if let Some(conn) = self.conns.get_mut(i).and_then(Option::as_mut) {
                    conn.release(durable, &*self.paths, self.now);
                    self.drive(i);
                }
            }
        }
    }

    /// Hands the pass's events to the component, if an answer waits for them.
    fn commit(&mut self) {
        if !self.batch_waits {
            return;
        }
        self.batch_waits = false;
        let batch = std::mem::take(&mut self.batch);
        self.waiting
            .push_back((self.pass, std::mem::take(&mut self.holding)));
        let durable = Durable {
            signal: self.signal.clone(),
            pass: self.pass,
        };
        self.pass += 1;
        self.paths.commit(batch, durable);
    }

    /// Closes connections that have been quiet too long with nothing to answer.
    fn sweep(&mut self) {
        for i in 0..self.conns.len() {
            let stale = self.conns[i].as_ref().is_some_and(|c| {
                let quiet = self.now.saturating_duration_since(c.last_active);
                c.idle() && (quiet >= IDLE || c.head_overdue(self.now, HEAD_TIMEOUT))
            });
            if stale {
                self.remove(i);
            }
        }
    }
}
