use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use tokio::sync::mpsc;

use super::*;

/// How long a stopping server may wait for held answers in these tests.
const WAIT: Duration = Duration::from_secs(10);

/// Answers `/hot` with a 302 that waits for its batch, `/quick` at once; keeps each
/// pass's `Durable` until the test lets it go.
#[derive(Default)]
struct Paths {
    committed: Mutex<Vec<(Vec<String>, Durable)>>,
    answered: Mutex<Vec<(usize, StatusCode)>>,
}

impl HotPaths for Paths {
    type Batch = Vec<String>;

    fn paths(&self) -> &[&'static str] {
        &["/hot", "/quick"]
    }

    fn answer(&self, request: &HotRequest<'_>, reply: &mut Reply, batch: &mut Vec<String>) -> bool {
        if request.route == 1 {
            reply.status = StatusCode::NOT_FOUND;
            reply.body(b"none");
            return false;
        }
        reply.status = StatusCode::FOUND;
        reply.header("location", b"https://example.org/");
        batch.push(request.query.unwrap_or("").to_string());
        true
    }

    fn commit(&self, batch: Vec<String>, durable: Durable) {
        self.committed
            .lock()
            .expect("not poisoned")
            .push((batch, durable));
    }

    fn answered(&self, route: usize, _: bool, status: StatusCode, _: Duration) {
        self.answered
            .lock()
            .expect("not poisoned")
            .push((route, status));
    }
}

impl Paths {
    /// Waits until `n` events are committed; returns them.
    fn wait_committed(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let events: Vec<String> = self
                .committed
                .lock()
                .expect("not poisoned")
                .iter()
                .flat_map(|(b, _)| b.clone())
                .collect();
            if events.len() >= n {
                return events;
            }
            assert!(Instant::now() < deadline, "only {events:?} committed");
            std::thread::yield_now();
        }
    }

    /// Makes every committed batch durable.
    fn make_durable(&self) {
        self.committed.lock().expect("not poisoned").clear();
    }
}

struct Server {
    paths: Arc<Paths>,
    server: HotServer,
    address: std::net::SocketAddr,
    handed: mpsc::UnboundedReceiver<HandOff>,
}

fn start() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    let paths = Arc::new(Paths::default());
    let (tx, handed) = mpsc::unbounded_channel();
    let server = HotServer::start(listener, paths.clone(), 2, tx).expect("start");
    Server {
        paths,
        server,
        address,
        handed,
    }
}

fn connect(address: std::net::SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
}

/// Reads until `n` answers (heads ending in a blank line, bodies of content-length) are in;
/// answers to a HEAD are marked in `heads`.
fn read_answers_of(stream: &mut TcpStream, n: usize, heads: &[usize]) -> Vec<String> {
    let mut bytes = Vec::new();
    let mut answers = Vec::new();
    while answers.len() < n {
        let mut chunk = [0u8; 4096];
        let got = stream.read(&mut chunk).expect("an answer");
        assert!(got > 0, "closed after {answers:?}");
        bytes.extend_from_slice(&chunk[..got]);
        while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end + 4]).to_string();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse().ok())
                .expect("a content-length");
            let body = if heads.contains(&answers.len()) {
                0
            } else {
                length
            };
            if bytes.len() < end + 4 + body {
                break;
            }
            answers.push(String::from_utf8_lossy(&bytes[..end + 4 + body]).to_string());
            bytes.drain(..end + 4 + body);
        }
    }
    answers
}

fn read_answers(stream: &mut TcpStream, n: usize) -> Vec<String> {
    read_answers_of(stream, n, &[])
}

#[test]
fn an_answer_waits_until_its_pass_is_durable() {
    let s = start();
    let mut client = connect(s.address);
    client
        .write_all(b"GET /hot?ref=a HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(s.paths.wait_committed(1), ["ref=a"]);
    // Committed, not durable: nothing may have been sent.
    client.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(
        client.read(&mut byte).map_err(|e| e.kind()).unwrap_err(),
        ErrorKind::WouldBlock
    );
    client.set_nonblocking(false).unwrap();
    s.paths.make_durable();
    let answer = &read_answers(&mut client, 1)[0];
    assert!(answer.starts_with("HTTP/1.1 302 Found\r\n"), "{answer}");
    assert!(
        answer.contains("location: https://example.org/\r\n"),
        "{answer}"
    );
    assert!(answer.contains("content-length: 0\r\n"), "{answer}");
    assert!(answer.contains("\r\ndate: "), "{answer}");
    assert!(!answer.contains("connection:"), "{answer}");
    s.server.stop(WAIT);
}

#[test]
fn answers_on_one_connection_keep_their_order() {
    let s = start();
    let mut client = connect(s.address);
    // Pipelined: an answer that needs no event still waits behind one that does.
    client
        .write_all(
            b"GET /hot?ref=1 HTTP/1.1\r\n\r\nGET /quick HTTP/1.1\r\n\r\nHEAD /quick HTTP/1.1\r\n\r\n",
        )
        .unwrap();
    s.paths.wait_committed(1);
    s.paths.make_durable();
    let answers = read_answers_of(&mut client, 3, &[2]);
    assert!(answers[0].starts_with("HTTP/1.1 302"), "{answers:?}");
    assert!(answers[1].starts_with("HTTP/1.1 404") && answers[1].ends_with("none"));
    assert!(
        answers[2].starts_with("HTTP/1.1 404") && answers[2].contains("content-length: 4\r\n"),
        "a HEAD hears the length of the body it does not get: {answers:?}"
    );
    // Kept alive: the next request on the same connection.
    client.write_all(b"GET /quick HTTP/1.1\r\n\r\n").unwrap();
    assert!(read_answers(&mut client, 1)[0].starts_with("HTTP/1.1 404"));
    let answered = s.paths.answered.lock().unwrap().clone();
    assert_eq!(answered.len(), 4, "{answered:?}");
    s.server.stop(WAIT);
}

#[test]
fn connection_close_is_followed_after_the_answer() {
    let s = start();
    let mut client = connect(s.address);
    client
        .write_all(b"GET /quick HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = String::new();
    client.read_to_string(&mut all).unwrap();
    assert!(all.starts_with("HTTP/1.1 404"), "{all}");
    assert!(all.contains("connection: close\r\n"), "{all}");
    let mut client = connect(s.address);
    client
        .write_all(b"GET /quick HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    assert!(read_answers(&mut client, 1)[0].contains("connection: keep-alive\r\n"));
    s.server.stop(WAIT);
}

#[test]
fn another_request_goes_to_hyper_with_the_bytes_read() {
    let mut s = start();
    let mut client = connect(s.address);
    let request = b"POST /hub/api/session HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
    client.write_all(request).unwrap();
    let handed = s.handed.blocking_recv().expect("handed over");
    assert_eq!(handed.read, request);
    assert_eq!(handed.peer, client.local_addr().unwrap());
    // The stream is the client's: what hyper writes reaches it.
    (&handed.stream).write_all(b"from hyper").unwrap();
    let mut got = [0u8; 10];
    client.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"from hyper");
    // After a hot answer, a request for another path on the same connection goes too.
    let mut client = connect(s.address);
    client
        .write_all(b"GET /quick HTTP/1.1\r\n\r\nGET /hub HTTP/1.1\r\n\r\n")
        .unwrap();
    assert!(read_answers(&mut client, 1)[0].starts_with("HTTP/1.1 404"));
    let handed = s.handed.blocking_recv().expect("handed over");
    assert_eq!(handed.read, b"GET /hub HTTP/1.1\r\n\r\n");
    s.server.stop(WAIT);
}

#[test]
fn stopping_sends_the_answers_already_read_once_durable() {
    let s = start();
    let mut client = connect(s.address);
    client
        .write_all(b"GET /hot?ref=b HTTP/1.1\r\n\r\n")
        .unwrap();
    s.paths.wait_committed(1);
    let paths = s.paths.clone();
    let durable = std::thread::spawn(move || {
        // Made durable while the server stops.
        paths.make_durable();
    });
    s.server.stop(WAIT);
    durable.join().unwrap();
    let mut all = String::new();
    client.read_to_string(&mut all).unwrap();
    assert!(all.starts_with("HTTP/1.1 302"), "{all}");
    assert!(
        TcpStream::connect(s.address).is_err(),
        "no longer listening"
    );
}

#[test]
fn a_client_that_shuts_its_side_gets_its_answer_and_then_the_close() {
    let s = start();
    let mut client = connect(s.address);
    client.write_all(b"GET /quick HTTP/1.1\r\n\r\n").unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut all = String::new();
    client.read_to_string(&mut all).unwrap();
    assert!(all.starts_with("HTTP/1.1 404"), "{all}");
    // Part of a head, then the end: closed without an answer.
    let mut client = connect(s.address);
    client.write_all(b"GET /quick HTTP/1.1\r\nHo").unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut all = Vec::new();
    client.read_to_end(&mut all).unwrap();
    assert!(all.is_empty(), "{all:?}");
    s.server.stop(WAIT);
}

#[test]
fn a_request_for_hyper_behind_a_held_answer_still_reaches_hyper_when_the_loop_stops() {
    let mut s = start();
    let mut client = connect(s.address);
    client
        .write_all(b"GET /hot?ref=c HTTP/1.1\r\n\r\nGET /hub HTTP/1.1\r\n\r\n")
        .unwrap();
    s.paths.wait_committed(1);
    let paths = s.paths.clone();
    let durable = std::thread::spawn(move || paths.make_durable());
    s.server.stop(WAIT);
    durable.join().unwrap();
    assert!(read_answers(&mut client, 1)[0].starts_with("HTTP/1.1 302"));
    let handed = s.handed.blocking_recv().expect("handed over");
    assert_eq!(handed.read, b"GET /hub HTTP/1.1\r\n\r\n");
}

/// Panics on `/hot?ref=panic`, as a bug in a component would.
struct Panicky(Paths);

impl HotPaths for Panicky {
    type Batch = Vec<String>;

    fn paths(&self) -> &[&'static str] {
        self.0.paths()
    }

    fn answer(&self, request: &HotRequest<'_>, reply: &mut Reply, batch: &mut Vec<String>) -> bool {
        assert_ne!(request.query, Some("ref=panic"), "a bug");
        self.0.answer(request, reply, batch)
    }

    fn commit(&self, batch: Vec<String>, durable: Durable) {
        drop(batch);
        drop(durable);
    }

    fn answered(&self, route: usize, head: bool, status: StatusCode, took: Duration) {
        self.0.answered(route, head, status, took);
    }
}

#[test]
fn a_panic_answering_one_request_closes_only_its_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (tx, _handed) = mpsc::unbounded_channel();
    // One loop: the other connection is served by the same thread that panicked.
    let server = HotServer::start(listener, Arc::new(Panicky(Paths::default())), 1, tx).unwrap();
    let mut bystander = connect(address);
    bystander.write_all(b"GET /quick HTTP/1.1\r\n\r\n").unwrap();
    assert!(read_answers(&mut bystander, 1)[0].starts_with("HTTP/1.1 404"));
    let mut culprit = connect(address);
    culprit
        .write_all(b"GET /hot?ref=panic HTTP/1.1\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    culprit.read_to_end(&mut all).unwrap();
    assert!(all.is_empty());
    bystander
        .write_all(b"GET /hot?ref=ok HTTP/1.1\r\n\r\n")
        .unwrap();
    assert!(read_answers(&mut bystander, 1)[0].starts_with("HTTP/1.1 302"));
    server.stop(WAIT);
}
