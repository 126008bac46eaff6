//! HTTP/1.1 server framing on `httparse`, without I/O: parse a request head
//! out of a read buffer, take its body (Content-Length or chunked) once it
//! has arrived, lay out an answer's head. The edge's connection loop and
//! Lambda's Runtime API socket both frame their requests with it; each
//! keeps its own I/O. `try_read_draining` is the one read both ends of a
//! TCP connection (the edge, the load generator's client) use.

use std::io;
use std::mem::MaybeUninit;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::{HeaderMap, Method, StatusCode, Uri, Version};

/// Request heads longer than this are refused with 431.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Request headers parsed at most (hyper's default too).
const MAX_HEADERS: usize = 100;
/// A chunk-size line or trailer longer than this is malformed.
const MAX_CHUNK_LINE: usize = 4 * 1024;

/// A request's head, parsed; its body is still in the buffer.
#[derive(Debug)]
pub struct RequestHead {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: HeaderMap,
    /// How its body is framed.
    pub body: BodyFraming,
    /// The client waits for `100 Continue` before sending the body.
    pub expect_continue: bool,
    /// The connection stays open after the answer (HTTP/1.1 unless
    /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`).
    pub keep_alive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    Length(usize),
    Chunked,
}

/// Why a request cannot be read: answered with this status, then the connection closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingError {
    /// Not HTTP/1.x as RFC 9112 frames it.
    Malformed,
    /// The head is over `MAX_HEAD_BYTES` or has too many headers.
    HeadTooLarge,
    /// The body is over the caller's limit.
    BodyTooLarge,
}

impl FramingError {
    pub fn status(self) -> StatusCode {
        match self {
            FramingError::Malformed => StatusCode::BAD_REQUEST,
            FramingError::HeadTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            FramingError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    /// The whole answer for a client whose request could not be framed.
    pub fn answer(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        write_head(&mut out, self.status(), &HeaderMap::new(), Some(0), false);
        out
    }
}

/// Parse the head at the start of `buf` and remove it from there. None while
/// it has not all arrived.
pub fn take_head(buf: &mut BytesMut) -> Result<Option<RequestHead>, FramingError> {
    let parsed = parse_head(buf)?;
    Ok(parsed.map(|(head, len)| {
        buf.advance(len);
        head
    }))
}

/// Parse the head at the start of `buf`: the head and its length in bytes,
/// None while it has not all arrived.
pub fn parse_head(buf: &[u8]) -> Result<Option<(RequestHead, usize)>, FramingError> {
    // Left uninitialised: zeroing 100 slots per request cost more than parsing.
    let mut slots = [const { MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let head_len = match request.parse_with_uninit_headers(buf, &mut slots) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD_BYTES => return Ok(None),
        Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => return Err(FramingError::HeadTooLarge),
        Err(_) => return Err(FramingError::Malformed),
    };
    if head_len > MAX_HEAD_BYTES {
        return Err(FramingError::HeadTooLarge);
    }
    let method = Method::from_bytes(request.method.unwrap_or_default().as_bytes()).map_err(malformed)?;
    let uri = Uri::try_from(request.path.unwrap_or_default()).map_err(malformed)?;
    let version = if request.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
    let mut headers = HeaderMap::with_capacity(request.headers.len());
    let (mut length, mut chunked, mut expect_continue) = (None, false, false);
    let mut connection = None;
    for header in request.headers.iter() {
        let name = HeaderName::from_bytes(header.name.as_bytes()).map_err(malformed)?;
        let value = HeaderValue::from_bytes(header.value).map_err(malformed)?;
        if name == CONTENT_LENGTH {
            let n = parse_content_length(header.value).ok_or(FramingError::Malformed)?;
            // Repeated lengths must agree (RFC 9112 §6.3).
            if length.is_some_and(|m| m != n) {
                return Err(FramingError::Malformed);
            }
            length = Some(n);
        } else if name == TRANSFER_ENCODING {
            // Only `chunked` is understood, and it must come last.
            if !header.value.eq_ignore_ascii_case(b"chunked") {
                return Err(FramingError::Malformed);
            }
            chunked = true;
        } else if name == http::header::EXPECT {
            expect_continue = header.value.eq_ignore_ascii_case(b"100-continue");
        } else if name == CONNECTION {
            connection = Some(value.clone());
        }
        headers.append(name, value);
    }
    let body = match (chunked, length) {
        // Both at once is how requests are smuggled: refused (RFC 9112 §6.1).
        (true, Some(_)) => return Err(FramingError::Malformed),
        (true, None) => BodyFraming::Chunked,
        (false, n) => BodyFraming::Length(n.unwrap_or(0)),
    };
    let has_token = |token: &str| {
        connection
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    let keep_alive = match version {
        Version::HTTP_10 => has_token("keep-alive"),
        _ => !has_token("close"),
    };
    Ok(Some((RequestHead { method, uri, version, headers, body, expect_continue, keep_alive }, head_len)))
}

fn malformed<E>(_: E) -> FramingError {
    FramingError::Malformed
}

fn parse_content_length(value: &[u8]) -> Option<usize> {
    let digits = std::str::from_utf8(value).ok()?.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Takes one request's body off a read buffer as it arrives.
#[derive(Debug)]
pub struct BodyReader {
    state: BodyState,
    limit: usize,
    /// A chunked body decoded so far.
    decoded: BytesMut,
}

#[derive(Debug, Clone, Copy)]
enum BodyState {
    Length(usize),
    /// Expecting a chunk-size line.
    ChunkSize,
    /// Inside a chunk with this many bytes left.
    ChunkData(usize),
    /// The CRLF after a chunk's data.
    ChunkEnd,
    /// Trailer lines up to the empty one.
    Trailers,
}

impl BodyReader {
    /// A reader for a body framed as `framing`, refusing one over `limit`
    /// bytes (a Content-Length over it is refused at once, before any of it
    /// is read).
    pub fn new(framing: BodyFraming, limit: usize) -> Result<Self, FramingError> {
        let state = match framing {
            BodyFraming::Length(n) if n > limit => return Err(FramingError::BodyTooLarge),
            BodyFraming::Length(n) => BodyState::Length(n),
            BodyFraming::Chunked => BodyState::ChunkSize,
        };
        Ok(BodyReader { state, limit, decoded: BytesMut::new() })
    }

    /// At least how many more bytes the body needs before `take` can finish
    /// (a hint for how much to read).
    pub fn wanted(&self, buf: &BytesMut) -> usize {
        match self.state {
            BodyState::Length(n) => n.saturating_sub(buf.len()).max(1),
            BodyState::ChunkData(n) => n.saturating_sub(buf.len()).max(1),
            _ => 1,
        }
    }

    /// The whole body once it is in `buf` (removed from there), None while
    /// more must be read.
    pub fn take(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, FramingError> {
        loop {
            match self.state {
                BodyState::Length(n) if buf.len() >= n => return Ok(Some(buf.split_to(n).freeze())),
                BodyState::Length(_) => return Ok(None),
                BodyState::ChunkSize => {
                    let Some(line) = take_line(buf)? else { return Ok(None) };
                    let size = parse_chunk_size(&line)?;
                    if self.decoded.len().saturating_add(size) > self.limit {
                        return Err(FramingError::BodyTooLarge);
                    }
                    self.state = if size == 0 { BodyState::Trailers } else { BodyState::ChunkData(size) };
                }
                BodyState::ChunkData(left) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = left.min(buf.len());
                    self.decoded.extend_from_slice(&buf[..n]);
                    buf.advance(n);
                    self.state = if n == left { BodyState::ChunkEnd } else { BodyState::ChunkData(left - n) };
                }
                BodyState::ChunkEnd => {
                    let Some(line) = take_line(buf)? else { return Ok(None) };
                    if !line.is_empty() {
                        return Err(FramingError::Malformed);
                    }
                    self.state = BodyState::ChunkSize;
                }
                BodyState::Trailers => {
                    let Some(line) = take_line(buf)? else { return Ok(None) };
                    if line.is_empty() {
                        return Ok(Some(std::mem::take(&mut self.decoded).freeze()));
                    }
                }
            }
        }
    }
}

/// One CRLF-terminated line off the buffer, without its CRLF.
fn take_line(buf: &mut BytesMut) -> Result<Option<Bytes>, FramingError> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(end) => {
            let line = buf.split_to(end).freeze();
            buf.advance(2);
            Ok(Some(line))
        }
        None if buf.len() > MAX_CHUNK_LINE => Err(FramingError::Malformed),
        None => Ok(None),
    }
}

/// `1a;name=value` -> 26 (chunk extensions are ignored, as RFC 9112 allows).
fn parse_chunk_size(line: &[u8]) -> Result<usize, FramingError> {
    let digits = line.split(|&b| b == b';').next().unwrap_or_default();
    let digits = std::str::from_utf8(digits).map_err(|_| FramingError::Malformed)?.trim();
    if digits.is_empty() || digits.len() > 15 {
        return Err(FramingError::Malformed);
    }
    usize::from_str_radix(digits, 16).map_err(|_| FramingError::Malformed)
}

/// Whether an answer to `method` with `status` carries no body (RFC 9112 §6.3).
pub fn bodyless(method: &Method, status: StatusCode) -> bool {
    method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
}

/// Append an answer's head to `out`: status line, `headers` (less the
/// framing ones, which are ours to write), `Date`, `Content-Length` when
/// given, and `Connection: close` unless `keep_alive`.
pub fn write_head(out: &mut Vec<u8>, status: StatusCode, headers: &HeaderMap, length: Option<usize>, keep_alive: bool) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING || name == CONNECTION || name == DATE {
            continue;
        }
        header_line(out, name.as_str().as_bytes(), value.as_bytes());
    }
    date::with_now(|now| header_line(out, b"date", now));
    if let Some(n) = length {
        let mut digits = [0u8; 20];
        header_line(out, b"content-length", decimal(n, &mut digits));
    }
    if !keep_alive {
        header_line(out, b"connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
}

fn header_line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// `n` in decimal, laid out at the end of `digits` (no allocation per answer).
fn decimal(mut n: usize, digits: &mut [u8; 20]) -> &[u8] {
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &digits[start..];
        }
    }
}

/// One `read` of what `stream` has onto the end of `buf`, without waiting
/// (`WouldBlock` when nothing is there).
///
/// A read that did not fill the room it had drained the socket, so the
/// stream's readiness is cleared right away: the next wait goes to epoll
/// directly instead of first trying a `read` that could only fail with
/// `EAGAIN` (one syscall per request saved on both ends of a keep-alive
/// connection). Nothing is missed: tokio registers sockets edge-triggered,
/// and bytes arriving after this read raise a new edge.
pub fn try_read_draining<B: BufMut>(stream: &tokio::net::TcpStream, buf: &mut B) -> io::Result<usize> {
    let room = buf.chunk_mut().len();
    let read = stream.try_read_buf(buf)?;
    if read > 0 && read < room {
        let _ = stream.try_io(tokio::io::Interest::READABLE, || Err::<(), _>(io::ErrorKind::WouldBlock.into()));
    }
    Ok(read)
}

/// The `Date` header's IMF-fixdate, formatted once a second per thread.
mod date {
    use std::cell::RefCell;

    use crate::time::civil_from_days;

    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

    thread_local! {
        static NOW: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }

    pub(super) fn with_now(f: impl FnOnce(&[u8])) {
        let seconds = crate::time::now_epoch_seconds();
        NOW.with(|now| {
            let mut now = now.borrow_mut();
            if now.0 != seconds {
                *now = (seconds, format(seconds));
            }
            f(now.1.as_bytes())
        })
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 §5.6.7).
    pub(super) fn format(epoch_seconds: i64) -> String {
        let days = epoch_seconds.div_euclid(86400);
        let (year, month, day) = civil_from_days(days);
        let secs = epoch_seconds.rem_euclid(86400);
        format!(
            "{}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
            DAYS[days.rem_euclid(7) as usize],
            MONTHS[month as usize - 1],
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buf(bytes: &[u8]) -> BytesMut {
        BytesMut::from(bytes)
    }

    #[test]
    fn head_with_length_body_and_pipelined_rest() {
        let mut b = buf(b"POST /x?y=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n");
        let head = take_head(&mut b).unwrap().unwrap();
        assert_eq!(head.method, Method::POST);
        assert_eq!(head.uri.path(), "/x");
        assert_eq!(head.uri.query(), Some("y=1"));
        assert_eq!(head.headers["host"], "h");
        assert!(head.keep_alive);
        let mut body = BodyReader::new(head.body, 10).unwrap();
        assert_eq!(body.take(&mut b).unwrap().unwrap(), "abc");
        let next = take_head(&mut b).unwrap().unwrap();
        assert_eq!(next.method, Method::GET);
        assert_eq!(next.body, BodyFraming::Length(0));
        assert!(b.is_empty());
    }

    #[test]
    fn partial_head_waits() {
        let mut b = buf(b"GET / HTTP/1.1\r\nHost");
        assert!(take_head(&mut b).unwrap().is_none());
        assert_eq!(b.len(), 20);
    }

    #[test]
    fn keep_alive_by_version_and_connection_header() {
        let ka = |raw: &[u8]| take_head(&mut buf(raw)).unwrap().unwrap().keep_alive;
        assert!(!ka(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
        assert!(!ka(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(ka(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    }

    #[test]
    fn framing_errors() {
        let err = |raw: &[u8]| take_head(&mut buf(raw)).unwrap_err();
        assert_eq!(err(b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), FramingError::Malformed);
        assert_eq!(err(b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), FramingError::Malformed);
        assert_eq!(
            err(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            FramingError::Malformed
        );
        assert_eq!(err(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"), FramingError::Malformed);
        assert_eq!(err(b"\x01\x02 nonsense\r\n\r\n"), FramingError::Malformed);
        let mut long = b"GET / HTTP/1.1\r\nX: ".to_vec();
        long.resize(MAX_HEAD_BYTES + 10, b'a');
        assert_eq!(err(&long), FramingError::HeadTooLarge);
        let head = take_head(&mut buf(b"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n")).unwrap().unwrap();
        assert_eq!(BodyReader::new(head.body, 10).unwrap_err(), FramingError::BodyTooLarge);
    }

    #[test]
    fn chunked_body_arriving_in_pieces() {
        let mut b = buf(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n");
        let head = take_head(&mut b).unwrap().unwrap();
        assert!(head.expect_continue);
        let mut body = BodyReader::new(head.body, 100).unwrap();
        let wire = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nnext";
        // One byte at a time: every state must wait correctly.
        let mut done = None;
        for &byte in wire.iter() {
            b.extend_from_slice(&[byte]);
            if done.is_none() {
                done = body.take(&mut b).unwrap();
            }
        }
        assert_eq!(done.unwrap(), "hello world");
        assert_eq!(&b[..], b"next");
    }

    #[test]
    fn chunked_over_limit_and_bad_sizes() {
        let mut body = BodyReader::new(BodyFraming::Chunked, 4).unwrap();
        assert_eq!(body.take(&mut buf(b"5\r\nhello\r\n0\r\n\r\n")).unwrap_err(), FramingError::BodyTooLarge);
        let mut body = BodyReader::new(BodyFraming::Chunked, 4).unwrap();
        assert_eq!(body.take(&mut buf(b"zz\r\n")).unwrap_err(), FramingError::Malformed);
        let mut body = BodyReader::new(BodyFraming::Chunked, 4).unwrap();
        assert_eq!(body.take(&mut buf(b"1\r\nab\r\n")).unwrap_err(), FramingError::Malformed);
    }

    #[test]
    fn answer_head() {
        let mut headers = HeaderMap::new();
        headers.insert("x-amzn-requestid", HeaderValue::from_static("r1"));
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("999"));
        let mut out = Vec::new();
        write_head(&mut out, StatusCode::OK, &headers, Some(12), false);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\nx-amzn-requestid: r1\r\ndate: "), "{text}");
        assert!(text.ends_with(" GMT\r\ncontent-length: 12\r\nconnection: close\r\n\r\n"), "{text}");
        assert!(!text.contains("999"));
    }

    #[test]
    fn imf_fixdate() {
        assert_eq!(date::format(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(date::format(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn bodyless_answers() {
        assert!(bodyless(&Method::HEAD, StatusCode::OK));
        assert!(bodyless(&Method::GET, StatusCode::NO_CONTENT));
        assert!(bodyless(&Method::GET, StatusCode::NOT_MODIFIED));
        assert!(!bodyless(&Method::GET, StatusCode::OK));
    }
}
