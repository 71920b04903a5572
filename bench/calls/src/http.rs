//! A small HTTP/1.1 client over tokio's `TcpStream`: keep-alive connections in a bounded
//! pool, one request at a time per connection (no pipelining), `Content-Length` or chunked
//! bodies. Enough to drive ViaWork's JSON API and scrape `/metrics`; nothing else.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// A response: status and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Why a request got no response.
#[derive(Debug)]
pub enum HttpError {
    Timeout,
    Io(std::io::Error),
    Malformed(&'static str),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Timeout => write!(f, "timeout"),
            HttpError::Io(e) => write!(f, "io: {e}"),
            HttpError::Malformed(what) => write!(f, "malformed response: {what}"),
        }
    }
}

impl From<std::io::Error> for HttpError {
    fn from(e: std::io::Error) -> Self {
        HttpError::Io(e)
    }
}

/// One keep-alive connection and its read buffer.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// Heads and bodies larger than this are refused (the API's answers are a few KiB;
/// `/metrics` a few tens).
const MAX_RESPONSE: usize = 8 << 20;

impl Conn {
    /// Connects (loopback only: the caller checks the address).
    pub async fn connect(addr: SocketAddr) -> Result<Conn, HttpError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Sends one request and reads its response. Returns the response and whether the
    /// connection may be reused.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> Result<(Response, bool), HttpError> {
        let mut req = Vec::with_capacity(256 + body.map_or(0, <[u8]>::len));
        req.extend_from_slice(method.as_bytes());
        req.push(b' ');
        req.extend_from_slice(path.as_bytes());
        req.extend_from_slice(b" HTTP/1.1\r\nHost: viawork\r\n");
        if let Some(t) = token {
            req.extend_from_slice(b"Authorization: Bearer ");
            req.extend_from_slice(t.as_bytes());
            req.extend_from_slice(b"\r\n");
        }
        match body {
            Some(b) => {
                req.extend_from_slice(b"Content-Type: application/json\r\nContent-Length: ");
                req.extend_from_slice(b.len().to_string().as_bytes());
                req.extend_from_slice(b"\r\n\r\n");
                req.extend_from_slice(b);
            }
            None => req.extend_from_slice(b"\r\n"),
        }
        self.stream.write_all(&req).await?;
        self.read_response(method == "HEAD").await
    }

    async fn fill(&mut self) -> Result<(), HttpError> {
        if self.buf.len() > MAX_RESPONSE {
            return Err(HttpError::Malformed("response too large"));
        }
        let mut chunk = [0u8; 16384];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(HttpError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    async fn read_response(&mut self, head_only: bool) -> Result<(Response, bool), HttpError> {
        self.buf.clear();
        let head_end = loop {
            if let Some(p) = find(&self.buf, b"\r\n\r\n") {
                break p + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| HttpError::Malformed("head is not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or(HttpError::Malformed("status line"))?;
        let (mut length, mut chunked, mut keep) = (None, false, true);
        for l in lines {
            let Some((n, v)) = l.split_once(':') else {
                continue;
            };
            let (n, v) = (n.trim(), v.trim());
            if n.eq_ignore_ascii_case("content-length") {
                length = Some(
                    v.parse::<usize>()
                        .map_err(|_| HttpError::Malformed("content-length"))?,
                );
            } else if n.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.to_ascii_lowercase().contains("chunked");
            } else if n.eq_ignore_ascii_case("connection") {
                keep = !v.eq_ignore_ascii_case("close");
            }
        }
        let no_body = head_only || status == 204 || status == 304 || (100..200).contains(&status);
        let body = if no_body {
            Vec::new()
        } else if chunked {
            self.read_chunked(head_end).await?
        } else if let Some(len) = length {
            if len > MAX_RESPONSE {
                return Err(HttpError::Malformed("response too large"));
            }
            while self.buf.len() < head_end + len {
                self.fill().await?;
            }
            self.buf[head_end..head_end + len].to_vec()
        } else {
            // No length: the body runs to the end of the connection.
            loop {
                match self.fill().await {
                    Ok(()) => {}
                    Err(HttpError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(e),
                }
            }
            keep = false;
            self.buf[head_end..].to_vec()
        };
        Ok((Response { status, body }, keep))
    }

    async fn read_chunked(&mut self, mut at: usize) -> Result<Vec<u8>, HttpError> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(p) = find(&self.buf[at..], b"\r\n") {
                    break at + p;
                }
                self.fill().await?;
            };
            let size_text = std::str::from_utf8(&self.buf[at..line_end])
                .map_err(|_| HttpError::Malformed("chunk size"))?;
            let size_text = size_text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| HttpError::Malformed("chunk size"))?;
            at = line_end + 2;
            if size == 0 {
                // Trailers (none expected) end with an empty line.
                loop {
                    if let Some(p) = find(&self.buf[at..], b"\r\n") {
                        if p == 0 {
                            return Ok(body);
                        }
                        at += p + 2;
                        continue;
                    }
                    self.fill().await?;
                }
            }
            if body.len() + size > MAX_RESPONSE {
                return Err(HttpError::Malformed("response too large"));
            }
            while self.buf.len() < at + size + 2 {
                self.fill().await?;
            }
            body.extend_from_slice(&self.buf[at..at + size]);
            at += size + 2;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// At most `size` connections to one address, reused while the server keeps them open.
pub struct Pool {
    addr: SocketAddr,
    idle: Mutex<Vec<Conn>>,
    permits: Semaphore,
    timeout: Duration,
}

impl Pool {
    pub fn new(addr: SocketAddr, size: usize, timeout: Duration) -> Pool {
        Pool {
            addr,
            idle: Mutex::new(Vec::with_capacity(size)),
            permits: Semaphore::new(size),
            timeout,
        }
    }

    /// One request on a pooled connection, within the pool's timeout (waiting for a free
    /// connection included). A request that fails on a reused connection before any answer
    /// is retried once on a new one when it is safe to repeat (not a POST).
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> Result<Response, HttpError> {
        match tokio::time::timeout(self.timeout, self.request_inner(method, path, token, body))
            .await
        {
            Ok(r) => r,
            Err(_) => Err(HttpError::Timeout),
        }
    }

    async fn request_inner(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> Result<Response, HttpError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HttpError::Malformed("pool closed"))?;
        let reused = self.idle.lock().map(|mut v| v.pop()).unwrap_or(None);
        let was_reused = reused.is_some();
        let mut conn = match reused {
            Some(c) => c,
            None => Conn::connect(self.addr).await?,
        };
        let result = match conn.send(method, path, token, body).await {
            Err(HttpError::Io(_)) if was_reused && method != "POST" => {
                conn = Conn::connect(self.addr).await?;
                conn.send(method, path, token, body).await
            }
            r => r,
        };
        let (resp, keep) = result?;
        if keep {
            if let Ok(mut v) = self.idle.lock() {
                v.push(conn);
            }
        }
        Ok(resp)
    }
}
