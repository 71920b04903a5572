//! An open `/api/v1/events` stream (Server-Sent Events) that a test reads from while it
//! drives the API: the stream is subscribed once [`EventStream::open`] returns (the server
//! answers the request only after subscribing), so nothing published after that is missed.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A user's event stream.
pub struct EventStream {
    reader: BufReader<TcpStream>,
    /// Every event read so far, in order.
    pub seen: Vec<Value>,
    /// How far [`next_matching`](Self::next_matching) has looked.
    cursor: usize,
}

impl EventStream {
    /// Opens the stream of the token's user, with `query` (`""` or `"?since=3"`).
    pub fn open(http: SocketAddr, token: &str, query: &str) -> EventStream {
        let mut conn = TcpStream::connect(http).expect("connect to the HTTP API");
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        write!(
            conn,
            "GET /api/v1/events{query} HTTP/1.1\r\nHost: {http}\r\n\
             Accept: text/event-stream\r\nAuthorization: Bearer {token}\r\n\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(conn);
        let mut line = String::new();
        reader.read_line(&mut line).expect("status line");
        assert!(line.contains(" 200 "), "events: {line}");
        loop {
            line.clear();
            reader.read_line(&mut line).expect("header");
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        EventStream {
            reader,
            seen: Vec::new(),
            cursor: 0,
        }
    }

    /// Reads until an event not yet returned matches `pred` (bounded, 20 s) and returns
    /// it; events before it stay in [`seen`](Self::seen). Fails naming `what`.
    pub fn next_matching(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            while self.cursor < self.seen.len() {
                let e = &self.seen[self.cursor];
                self.cursor += 1;
                if pred(e) {
                    return e.clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "no {what} event; saw {:#?}",
                self.seen
            );
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => panic!("the stream ended; no {what} event; saw {:#?}", self.seen),
                Ok(_) => {
                    if let Some(data) = line.trim_end().strip_prefix("data: ") {
                        self.seen
                            .push(serde_json::from_str(data).expect("event JSON"));
                    }
                }
                Err(e) => panic!("reading events: {e}; no {what} event; saw {:#?}", self.seen),
            }
        }
    }

    /// The next event of type `kind`.
    pub fn next_of(&mut self, kind: &str) -> Value {
        self.next_matching(kind, |e| e["type"] == kind)
    }
}
