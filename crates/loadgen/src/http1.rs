//! A small HTTP/1.1 client connection for the load generator: one keep-alive
//! socket, one request at a time, reused buffers.
//!
//! The load generator shares the machine's cores with every server it
//! measures, so its own CPU per request caps every target alike. Hyper's
//! client spent it on a task hop per request (the sender and the connection
//! are separate tasks), header maps and per-request allocations; here a
//! request is one `write` of bytes the caller has already laid out, and the
//! answer usually one `read` into a buffer kept across requests.
//!
//! Answers are framed as HTTP/1.1 allows a server to: `Content-Length`,
//! chunked transfer coding, or (without either) the end of the connection.

use std::io;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Room made in the read buffer before each read.
const READ_CHUNK: usize = 16 * 1024;
/// Response headers parsed at most (DynamoDB answers carry about five).
const MAX_HEADERS: usize = 32;

/// An answer: its status and its body (decoded if chunked), borrowed from the connection.
pub struct Response<'a> {
    pub status: u16,
    pub body: &'a [u8],
}

pub struct Connection {
    stream: TcpStream,
    /// Bytes read for the current answer.
    input: Vec<u8>,
    /// The decoded body of a chunked answer.
    chunked: Vec<u8>,
    /// How long to poll for an answer before sleeping in epoll (see `read_more`).
    spin: Duration,
    /// False once the server said `Connection: close` or hung up.
    open: bool,
}

/// How the body of an answer ends.
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

impl Connection {
    pub async fn connect(addr: std::net::SocketAddr, spin: Duration) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection { stream, input: Vec::with_capacity(READ_CHUNK), chunked: Vec::new(), spin, open: true })
    }

    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Sends one whole serialized request and reads its answer. Any error
    /// leaves the connection unusable (the caller reconnects).
    pub async fn round_trip(&mut self, request: &[u8]) -> Result<Response<'_>, String> {
        let result = self.exchange(request).await;
        if result.is_err() {
            self.open = false;
        }
        let (status, body) = result?;
        let body = match body {
            Some(range) => &self.input[range],
            None => &self.chunked[..],
        };
        Ok(Response { status, body })
    }

    /// The status and where the body is: a range of `input`, or `chunked` (None).
    async fn exchange(&mut self, request: &[u8]) -> Result<(u16, Option<std::ops::Range<usize>>), String> {
        self.stream.write_all(request).await.map_err(|e| format!("send: {e}"))?;
        let sent = Instant::now();
        self.input.clear();
        let Head { status, len: head_len, framing, close } = loop {
            if let Some(head) = parse_head(&self.input)? {
                break head;
            }
            self.read_or_fail(sent).await?;
        };
        if close {
            self.open = false;
        }
        match framing {
            Framing::Length(len) => {
                while self.input.len() < head_len + len {
                    self.read_or_fail(sent).await?;
                }
                if self.input.len() > head_len + len {
                    return Err("bytes after the answer to a single request".into());
                }
                Ok((status, Some(head_len..head_len + len)))
            }
            Framing::Chunked => {
                self.chunked.clear();
                let mut at = head_len;
                loop {
                    match decode_chunk(&self.input[at..])? {
                        Chunk::Data { skip, data } => {
                            self.chunked.extend_from_slice(&self.input[at + data.start..at + data.end]);
                            at += skip;
                        }
                        Chunk::Last => return Ok((status, None)),
                        Chunk::Partial => self.read_or_fail(sent).await?,
                    }
                }
            }
            Framing::UntilClose => {
                while self.read_some(sent).await? {}
                Ok((status, Some(head_len..self.input.len())))
            }
        }
    }

    /// `read_some` where the answer is not complete yet.
    async fn read_or_fail(&mut self, sent: Instant) -> Result<(), String> {
        match self.read_some(sent).await? {
            true => Ok(()),
            false => Err("the server closed the connection mid-answer".into()),
        }
    }

    /// Appends what the socket has to `input`. Until `spin` has passed since
    /// the request went out it polls without sleeping: on a VM a thread that
    /// sleeps lets its vCPU halt, and waking it costs tens of microseconds,
    /// more than a GetItem takes to serve. Yielding to tokio's current-thread
    /// scheduler makes it check its sockets without blocking before it polls
    /// this task again. False at the end of the stream.
    async fn read_some(&mut self, sent: Instant) -> Result<bool, String> {
        self.input.reserve(READ_CHUNK);
        loop {
            match nimbus_core::http1::try_read_draining(&self.stream, &mut self.input) {
                Ok(0) => {
                    self.open = false;
                    return Ok(false);
                }
                Ok(_) => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if sent.elapsed() < self.spin {
                        // Let any other runnable thread on this core (the server's, say) go first.
                        std::thread::yield_now();
                        tokio::task::yield_now().await;
                    } else {
                        self.stream.readable().await.map_err(|e| format!("receive: {e}"))?;
                    }
                }
                Err(e) => return Err(format!("receive: {e}")),
            }
        }
    }
}

/// What the status line and headers say.
struct Head {
    status: u16,
    /// Bytes up to and including the blank line.
    len: usize,
    framing: Framing,
    /// `Connection: close`: the server ends the connection after this answer.
    close: bool,
}

/// The head of an answer, once complete.
fn parse_head(input: &[u8]) -> Result<Option<Head>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(input) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("bad response head: {e}")),
    };
    let status = response.code.unwrap_or(0);
    let mut framing = Framing::UntilClose;
    let mut close = response.version == Some(0);
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("connection") {
            close = header.value.eq_ignore_ascii_case(b"close");
        } else if header.name.eq_ignore_ascii_case("content-length") {
            let len = std::str::from_utf8(header.value).ok().and_then(|v| v.trim().parse().ok());
            let len = Framing::Length(len.ok_or("bad Content-Length")?);
            // Chunked coding wins over any Content-Length (RFC 9112 §6.3).
            if !matches!(framing, Framing::Chunked) {
                framing = len;
            }
        } else if header.name.eq_ignore_ascii_case("transfer-encoding")
            && header.value.to_ascii_lowercase().ends_with(b"chunked")
        {
            framing = Framing::Chunked;
        }
    }
    // Informational, 204 and 304 answers have no body.
    if (100..200).contains(&status) || status == 204 || status == 304 {
        framing = Framing::Length(0);
    }
    Ok(Some(Head { status, len: head_len, framing, close }))
}

enum Chunk {
    /// A data chunk at `data` (relative to where decoding started); the next starts `skip` bytes on.
    Data { skip: usize, data: std::ops::Range<usize> },
    /// The last chunk and the (empty) trailer section.
    Last,
    /// More bytes are needed.
    Partial,
}

fn decode_chunk(input: &[u8]) -> Result<Chunk, String> {
    let (size_len, size) = match httparse::parse_chunk_size(input) {
        Ok(httparse::Status::Complete(found)) => found,
        Ok(httparse::Status::Partial) => return Ok(Chunk::Partial),
        Err(_) => return Err("bad chunk size".into()),
    };
    let size = usize::try_from(size).map_err(|_| "chunk too large")?;
    if size == 0 {
        // Trailers are not expected from these servers: only the final CRLF.
        return Ok(match input.get(size_len..size_len + 2) {
            None => Chunk::Partial,
            Some(b"\r\n") => Chunk::Last,
            Some(_) => return Err("trailers after a chunked answer are not supported".into()),
        });
    }
    let end = size_len + size;
    match input.get(end..end + 2) {
        None => Ok(Chunk::Partial),
        Some(b"\r\n") => Ok(Chunk::Data { skip: end + 2, data: size_len..end }),
        Some(_) => Err("chunk not followed by CRLF".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_give_status_and_framing() {
        let head = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").unwrap().expect("complete");
        assert_eq!((head.status, head.len, head.close), (200, 38, false));
        assert!(matches!(head.framing, Framing::Length(2)));
        let head = b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\ncontent-length: 9\r\n\r\n";
        let head = parse_head(head).unwrap().expect("complete");
        assert!(head.status == 400 && matches!(head.framing, Framing::Chunked));
        let head = parse_head(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n").unwrap().expect("complete");
        assert!(head.close && matches!(head.framing, Framing::Length(0)));
        let head = parse_head(b"HTTP/1.0 200 OK\r\n\r\n").unwrap().expect("complete");
        assert!(head.close && matches!(head.framing, Framing::UntilClose));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap().is_none());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").is_err());
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
    }

    #[test]
    fn chunks_decode() {
        let body = b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n";
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            match decode_chunk(&body[at..]).unwrap() {
                Chunk::Data { skip, data } => {
                    out.extend_from_slice(&body[at + data.start..at + data.end]);
                    at += skip;
                }
                Chunk::Last => break,
                Chunk::Partial => panic!("complete input reported partial at {at}"),
            }
        }
        assert_eq!(out, b"Wikipedia");
        assert!(matches!(decode_chunk(b"4\r\nWi").unwrap(), Chunk::Partial));
        assert!(matches!(decode_chunk(b"0\r\n").unwrap(), Chunk::Partial));
        assert!(decode_chunk(b"4\r\nWikiXX").is_err());
    }

    /// A real socket: a server thread answers three requests, with Content-Length,
    /// chunked coding and finally by closing the connection.
    #[test]
    fn round_trips_over_tcp() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let answers: [&[u8]; 3] = [
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\nbye",
            ];
            let mut buf = [0u8; 1024];
            for answer in answers {
                let n = socket.read(&mut buf).unwrap();
                assert!(buf[..n].starts_with(b"POST / HTTP/1.1\r\n"));
                // Split the answer to exercise partial reads.
                let (a, b) = answer.split_at(answer.len() / 2);
                socket.write_all(a).unwrap();
                std::thread::sleep(Duration::from_millis(5));
                socket.write_all(b).unwrap();
            }
        });
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
            let mut connection = Connection::connect(addr, Duration::from_micros(100)).await.unwrap();
            let answer = connection.round_trip(request).await.unwrap();
            assert_eq!((answer.status, answer.body), (200, &b"hello"[..]));
            let answer = connection.round_trip(request).await.unwrap();
            assert_eq!((answer.status, answer.body), (400, &b"abcde"[..]));
            let answer = connection.round_trip(request).await.unwrap();
            assert_eq!((answer.status, answer.body), (500, &b"bye"[..]));
            assert!(!connection.is_open());
        });
        server.join().unwrap();
    }
}
