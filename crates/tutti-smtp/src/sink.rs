//! An SMTP sink for tests and benchmarks: it keeps what it receives and answers chosen
//! recipients with chosen replies (421, 450, 550, 552, …).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::reply::Reply;
use crate::server::{Handler, ServerConfig, serve};

/// A message the sink accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub content: Vec<u8>,
    /// When the sink accepted it.
    pub at: std::time::Instant,
}

/// When a scripted reply is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    Rcpt,
    /// After the content, for messages to this recipient.
    Data,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    /// Replies by (stage, recipient); each use takes one, the last one stays.
    script: HashMap<(Stage, String), Vec<Reply>>,
    keep: bool,
}

struct SinkHandler {
    state: Arc<Mutex<State>>,
}

impl SinkHandler {
    fn scripted(&self, stage: Stage, to: &str) -> Option<Reply> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let replies = state.script.get_mut(&(stage, to.to_ascii_lowercase()))?;
        if replies.len() > 1 {
            Some(replies.remove(0))
        } else {
            replies.first().cloned()
        }
    }
}

impl Handler for SinkHandler {
    fn rcpt(&self, to: &str) -> Result<(), Reply> {
        // A scripted 2xx accepts as usual.
        match self.scripted(Stage::Rcpt, to) {
            Some(r) if !r.is_positive() => Err(r),
            _ => Ok(()),
        }
    }

    async fn data(&self, from: String, to: Vec<String>, content: Vec<u8>) -> Result<(), Reply> {
        if let Some(r) = to
            .iter()
            .find_map(|t| self.scripted(Stage::Data, t))
            .filter(|r| !r.is_positive())
        {
            return Err(r);
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let content = if state.keep { content } else { Vec::new() };
        state.received.push(Received {
            from,
            to,
            content,
            at: std::time::Instant::now(),
        });
        Ok(())
    }
}

/// A running sink.
pub struct Sink {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Sink {
    /// Starts a sink on `addr` (port 0 for any) that keeps message content when `keep`.
    pub async fn start(
        addr: SocketAddr,
        config: ServerConfig,
        keep: bool,
    ) -> std::io::Result<Sink> {
        let state = Arc::new(Mutex::new(State {
            keep,
            ..State::default()
        }));
        Sink::start_with(addr, config, state).await
    }

    async fn start_with(
        addr: SocketAddr,
        config: ServerConfig,
        state: Arc<Mutex<State>>,
    ) -> std::io::Result<Sink> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let handler = Arc::new(SinkHandler {
            state: state.clone(),
        });
        let task = tokio::spawn(serve(listener, config, handler, async move {
            let _ = stopped.await;
        }));
        Ok(Sink {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Answers `to` at `stage` with these replies, one per attempt, the last one for good.
    pub fn script(&self, stage: Stage, to: &str, replies: Vec<Reply>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state
            .script
            .insert((stage, to.to_ascii_lowercase()), replies);
    }

    /// What the sink has accepted so far.
    pub fn received(&self) -> Vec<Received> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .received
            .clone()
    }

    /// Stops listening (sessions under way end with their connections).
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Listens again on the same address, keeping what was received and the script.
    pub async fn restart(&mut self, config: ServerConfig) -> std::io::Result<()> {
        self.stop().await;
        let again = Sink::start_with(self.addr, config, self.state.clone()).await?;
        *self = again;
        Ok(())
    }
}
