//! `nimbus-loadgen`: a closed-loop load generator for DynamoDB-compatible endpoints.
//!
//! Each of N workers owns one keep-alive HTTP/1.1 connection (`http1`, a
//! small client of our own, lean because the load generator shares the
//! cores with the server it measures) and sends the next request as soon as
//! the previous answer is read. Every request is SigV4-signed afresh, by the
//! workspace's one signer (`nimbus_iam::sigv4::Signer`). With one
//! connection the worker polls for each answer for `--spin-us` before
//! sleeping, whatever the target. The table is
//! (re)created and, for get/query/update, pre-loaded before the clock starts.
//! One JSON line goes to stdout:
//! `{target, workload, connections, ops, ops_per_sec, p50_us, p99_us, p999_us, errors}`.

mod hist;
mod http1;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::io::Write as _;

use clap::{Parser, ValueEnum};
use http::{HeaderMap, HeaderValue};
use nimbus_iam::sigv4::Signer;
use serde_json::{json, Value};

use hist::Samples;
use http1::{Connection, Response};

/// The awsJson 1.0 content type DynamoDB's SDKs send.
const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum Workload {
    /// PutItem of a 200-byte item under a random new key.
    Put,
    /// GetItem of a random pre-loaded key.
    Get,
    /// Query of one random pre-loaded partition of 10 items.
    Query,
    /// UpdateItem `SET #c = #c + :one` if `attribute_exists(pk)`, random pre-loaded key.
    Update,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Put => "put",
            Workload::Get => "get",
            Workload::Query => "query",
            Workload::Update => "update",
        }
    }
}

#[derive(Parser, Debug)]
#[command(name = "nimbus-loadgen", about = "Closed-loop, SigV4-signing DynamoDB load generator")]
struct Args {
    /// Base URL of the DynamoDB endpoint (http only).
    #[arg(long, default_value = "http://127.0.0.1:4566")]
    endpoint: String,
    #[arg(long, value_enum)]
    workload: Workload,
    /// Concurrent keep-alive connections, one closed-loop worker each.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Measured time, e.g. 10s, 500ms.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Unmeasured time before the measured window (same connections).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warmup: Duration,
    /// Items pre-loaded for get/update (one per partition); query pre-loads items/10 partitions of 10.
    #[arg(long, default_value_t = 10_000)]
    items: usize,
    #[arg(long, default_value = "bench")]
    table: String,
    /// Label for the `target` field of the result (default: the endpoint's host:port).
    #[arg(long)]
    target: Option<String>,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    #[arg(long, default_value = "test", env = "AWS_ACCESS_KEY_ID")]
    access_key_id: String,
    #[arg(long, default_value = "test", env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_access_key: String,
    /// Client runtime threads (1 = a single-threaded runtime).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// With one connection, poll for each answer this many microseconds
    /// before sleeping in epoll, so the client's own wake-up from a halted
    /// vCPU is not part of every round trip (the same for every target). With
    /// more connections other answers keep the client busy and it never spins.
    #[arg(long, default_value_t = 100)]
    spin_us: u64,
    /// Create the table with a DynamoDB stream of this view type (e.g.
    /// NEW_AND_OLD_IMAGES), to measure what capturing changes costs writes.
    #[arg(long)]
    stream_view_type: Option<String>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let value: f64 = number.parse().map_err(|_| format!("not a duration: {s:?} (try 10s or 500ms)"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("not a duration: {s:?}"));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

/// Total item size as DynamoDB counts it (attribute names + values) for the `data` padding.
const ITEM_BYTES: usize = 200;

fn padding(len: usize) -> String {
    "x".repeat(len)
}

/// A pre-loaded item: pk, sk, c = 0 and `data` padded to 200 bytes.
fn preload_item(pk: &str, sk: &str) -> String {
    // names: pk(2) sk(2) c(1) data(4); the number 0 counts as 2 bytes.
    let fixed = 2 + pk.len() + 2 + sk.len() + 1 + 2 + 4;
    format!(
        r#"{{"pk":{{"S":"{pk}"}},"sk":{{"S":"{sk}"}},"c":{{"N":"0"}},"data":{{"S":"{}"}}}}"#,
        padding(ITEM_BYTES - fixed)
    )
}

fn get_pk(i: usize) -> String {
    format!("p{i:09}")
}

fn sort_key(j: usize) -> String {
    format!("s{j:03}")
}

struct Endpoint {
    addr: SocketAddr,
    /// host[:port] exactly as sent in the Host header and signed.
    host: String,
}

fn parse_endpoint(url: &str) -> Result<Endpoint, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("only http:// endpoints are supported: {url}"))?;
    let host = rest.split('/').next().unwrap_or("").to_owned();
    if host.is_empty() {
        return Err(format!("no host in {url}"));
    }
    let with_port = if host.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        host.clone()
    } else {
        format!("{host}:80")
    };
    use std::net::ToSocketAddrs;
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {with_port}: {e}"))?
        .next()
        .ok_or_else(|| format!("{with_port} resolves to nothing"))?;
    Ok(Endpoint { addr, host })
}

/// One keep-alive connection, its signer and the buffer requests are laid out in.
struct Client {
    endpoint: Arc<Endpoint>,
    connection: Option<Connection>,
    signer: Signer,
    /// The signed headers given by the caller: host, content-type and x-amz-target of `operation`.
    headers: HeaderMap,
    operation: &'static str,
    request: Vec<u8>,
    spin: Duration,
}

impl Client {
    fn new(endpoint: Arc<Endpoint>, args: &Args) -> Self {
        let signer = Signer::new(&args.access_key_id, &args.secret_access_key, &args.region, "dynamodb");
        let mut headers = HeaderMap::new();
        let host = HeaderValue::from_str(&endpoint.host).expect("a host from a parsed URL is a header value");
        headers.insert(http::header::HOST, host);
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        Client {
            endpoint,
            connection: None,
            signer,
            headers,
            operation: "",
            request: Vec::with_capacity(2048),
            spin: Duration::ZERO,
        }
    }

    /// Poll for answers for up to `spin` before sleeping (see `http1::Connection::read_some`).
    fn spinning(mut self, spin: Duration) -> Self {
        self.spin = spin;
        self
    }

    async fn connect(&mut self) -> Result<(), String> {
        let connection = Connection::connect(self.endpoint.addr, self.spin)
            .await
            .map_err(|e| format!("connect {}: {e}", self.endpoint.addr))?;
        self.connection = Some(connection);
        Ok(())
    }

    /// Sends one signed call; Ok(answer) for any HTTP answer, Err for transport failures
    /// (after which the next call reconnects).
    async fn call(&mut self, operation: &'static str, body: &str) -> Result<Response<'_>, String> {
        if self.connection.as_ref().is_none_or(|c| !c.is_open()) {
            self.connect().await?;
        }
        self.lay_out(operation, body)?;
        let connection = self.connection.as_mut().expect("connected above");
        connection.round_trip(&self.request).await
    }

    /// Writes the signed request into `self.request`. Signs content-type,
    /// host, x-amz-date and x-amz-target, as the SDKs do, afresh each time.
    fn lay_out(&mut self, operation: &'static str, body: &str) -> Result<(), String> {
        if operation != self.operation {
            let target = HeaderValue::from_str(&format!("DynamoDB_20120810.{operation}")).map_err(|e| e.to_string())?;
            self.headers.insert("x-amz-target", target);
            self.operation = operation;
        }
        let now = nimbus_core::time::now_epoch_seconds();
        let added = self.signer.sign("POST", "/", "", &self.headers, body.as_bytes(), now);
        let request = &mut self.request;
        request.clear();
        request.extend_from_slice(b"POST / HTTP/1.1\r\n");
        let given = self.headers.iter().map(|(name, value)| (name.as_str(), value.as_bytes()));
        for (name, value) in given.chain(added.iter().map(|(name, value)| (*name, value.as_bytes()))) {
            for piece in [name.as_bytes(), b": ", value, b"\r\n"] {
                request.extend_from_slice(piece);
            }
        }
        write!(request, "content-length: {}\r\n\r\n", body.len()).map_err(|e| e.to_string())?;
        request.extend_from_slice(body.as_bytes());
        Ok(())
    }

    /// A set-up call: as `call`, but sent once more on a fresh connection
    /// if the connection failed. A server may close a keep-alive connection
    /// that sat idle (DynamoDB Local does while the others pre-load), and a
    /// write into a connection the server has closed fails only when its
    /// answer is read. Set-up calls are safe to repeat: puts of the same
    /// items, and table calls whose errors set-up already expects.
    async fn setup_call(&mut self, operation: &'static str, body: &str) -> Result<(u16, Vec<u8>), String> {
        if let Ok(answer) = self.call(operation, body).await {
            return Ok((answer.status, answer.body.to_vec()));
        }
        let answer = self.call(operation, body).await?;
        Ok((answer.status, answer.body.to_vec()))
    }

    /// A set-up call that must succeed: returns the parsed JSON answer.
    async fn must(&mut self, operation: &'static str, body: &str) -> Result<Value, String> {
        let (status, body) = self.setup_call(operation, body).await?;
        if status != 200 {
            return Err(format!("{operation}: HTTP {status}: {}", String::from_utf8_lossy(&body)));
        }
        Ok(serde_json::from_slice(&body).unwrap_or(Value::Null))
    }
}

fn error_type(bytes: &[u8]) -> String {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| v.get("__type").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
}

async fn recreate_table(client: &mut Client, table: &str, stream_view_type: Option<&str>) -> Result<(), String> {
    let (status, body) = client.setup_call("DeleteTable", &json!({ "TableName": table }).to_string()).await?;
    if status != 200 && !error_type(&body).ends_with("ResourceNotFoundException") {
        return Err(format!("DeleteTable: HTTP {status}: {}", String::from_utf8_lossy(&body)));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    // Wait until it is gone (dynalite keeps tables DELETING for a while).
    loop {
        let (status, body) = client.setup_call("DescribeTable", &json!({ "TableName": table }).to_string()).await?;
        if status != 200 && error_type(&body).ends_with("ResourceNotFoundException") {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("table {table} still exists after DeleteTable"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut create = json!({
        "TableName": table,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            { "AttributeName": "pk", "AttributeType": "S" },
            { "AttributeName": "sk", "AttributeType": "S" }
        ],
        "KeySchema": [
            { "AttributeName": "pk", "KeyType": "HASH" },
            { "AttributeName": "sk", "KeyType": "RANGE" }
        ]
    });
    if let Some(view_type) = stream_view_type {
        create["StreamSpecification"] = json!({ "StreamEnabled": true, "StreamViewType": view_type });
    }
    client.must("CreateTable", &create.to_string()).await?;
    loop {
        let answer = client.must("DescribeTable", &json!({ "TableName": table }).to_string()).await?;
        if answer.pointer("/Table/TableStatus").and_then(Value::as_str) == Some("ACTIVE") {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("table {table} not ACTIVE after 60 s"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes `items` with BatchWriteItem (25 per call, resending UnprocessedItems) over 8 connections.
async fn preload(endpoint: &Arc<Endpoint>, args: &Args, items: Vec<String>) -> Result<(), String> {
    let chunks: Vec<Vec<String>> = items.chunks(25).map(<[String]>::to_vec).collect();
    let chunks = Arc::new(std::sync::Mutex::new(chunks));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let chunks = chunks.clone();
        let mut client = Client::new(endpoint.clone(), args);
        let table = args.table.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(chunk) = chunks.lock().expect("not poisoned").pop() else { return Ok::<(), String>(()) };
                let requests: Vec<String> =
                    chunk.iter().map(|item| format!(r#"{{"PutRequest":{{"Item":{item}}}}}"#)).collect();
                let mut body = format!(r#"{{"RequestItems":{{"{table}":[{}]}}}}"#, requests.join(","));
                for _attempt in 0..100 {
                    let answer = client.must("BatchWriteItem", &body).await?;
                    match answer.get("UnprocessedItems").and_then(Value::as_object) {
                        Some(left) if !left.is_empty() => {
                            body = json!({ "RequestItems": left }).to_string();
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        _ => break,
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// Writes the body of the measured request for one random key into `out`; returns the operation.
fn request_body(workload: Workload, table: &str, items: usize, pad: &str, out: &mut String) -> &'static str {
    use std::fmt::Write as _;
    out.clear();
    let written = match workload {
        Workload::Put => {
            let pk = fastrand::u64(..);
            write!(
                out,
                r#"{{"TableName":"{table}","Item":{{"pk":{{"S":"r{pk:016x}"}},"sk":{{"S":"s000"}},"data":{{"S":"{pad}"}}}}}}"#
            )
        }
        Workload::Get => {
            let pk = fastrand::usize(..items);
            write!(out, r#"{{"TableName":"{table}","Key":{{"pk":{{"S":"p{pk:09}"}},"sk":{{"S":"s000"}}}}}}"#)
        }
        Workload::Query => {
            let pk = fastrand::usize(..(items / 10).max(1));
            write!(
                out,
                r#"{{"TableName":"{table}","KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{{":p":{{"S":"p{pk:09}"}}}}}}"#
            )
        }
        Workload::Update => {
            let pk = fastrand::usize(..items);
            write!(
                out,
                r##"{{"TableName":"{table}","Key":{{"pk":{{"S":"p{pk:09}"}},"sk":{{"S":"s000"}}}},"UpdateExpression":"SET #c = #c + :one","ConditionExpression":"attribute_exists(pk)","ExpressionAttributeNames":{{"#c":"c"}},"ExpressionAttributeValues":{{":one":{{"N":"1"}}}}}}"##
            )
        }
    };
    written.expect("writing to a String cannot fail");
    match workload {
        Workload::Put => "PutItem",
        Workload::Get => "GetItem",
        Workload::Query => "Query",
        Workload::Update => "UpdateItem",
    }
}

struct WorkerResult {
    samples: Samples,
    errors: u64,
}

async fn setup(endpoint: &Arc<Endpoint>, args: &Args) -> Result<(), String> {
    let mut client = Client::new(endpoint.clone(), args);
    recreate_table(&mut client, &args.table, args.stream_view_type.as_deref()).await?;
    let items: Vec<String> = match args.workload {
        Workload::Put => Vec::new(),
        Workload::Get | Workload::Update => (0..args.items).map(|i| preload_item(&get_pk(i), &sort_key(0))).collect(),
        Workload::Query => (0..(args.items / 10).max(1))
            .flat_map(|i| (0..10).map(move |j| preload_item(&get_pk(i), &sort_key(j))))
            .collect(),
    };
    preload(endpoint, args, items).await?;
    // Check once that the workload does what it claims.
    let mut body = String::new();
    let operation = request_body(args.workload, &args.table, args.items, &padding(171), &mut body);
    let answer = client.must(operation, &body).await?;
    match args.workload {
        Workload::Get if answer.get("Item").is_none() => return Err(format!("GetItem found no item: {answer}")),
        Workload::Query if answer.get("Count").and_then(Value::as_u64) != Some(10) => {
            return Err(format!("Query did not return 10 items: {answer}"))
        }
        _ => {}
    }
    Ok(())
}

async fn run(args: Arc<Args>) -> Result<Value, String> {
    let endpoint = Arc::new(parse_endpoint(&args.endpoint)?);
    setup(&endpoint, &args).await?;

    // PutItem's item: pk (2 + 17) + sk (2 + 4) + data (4 + padding) = 200 bytes.
    let pad: Arc<str> = padding(ITEM_BYTES - (2 + 17 + 2 + 4 + 4)).into();
    let printed_error = Arc::new(AtomicBool::new(false));
    let start = Instant::now() + Duration::from_millis(50);
    // Tells an outside observer (bench/dynamodb/cpu.py) when set-up is over:
    // the load starts 50 ms after this line, measurement after the warm-up.
    eprintln!("nimbus-loadgen: load starts");
    let measure_from = start + args.warmup;
    let spin = if args.connections == 1 { Duration::from_micros(args.spin_us) } else { Duration::ZERO };
    let end = measure_from + args.duration;
    let mut workers = Vec::new();
    for _ in 0..args.connections {
        let mut client = Client::new(endpoint.clone(), &args).spinning(spin);
        client.connect().await?;
        let args = args.clone();
        let pad = pad.clone();
        let printed_error = printed_error.clone();
        workers.push(tokio::spawn(async move {
            tokio::time::sleep_until(start.into()).await;
            let mut result = WorkerResult { samples: Samples::with_capacity(1 << 16), errors: 0 };
            let mut body = String::with_capacity(512);
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let operation = request_body(args.workload, &args.table, args.items, &pad, &mut body);
                let outcome = client.call(operation, &body).await;
                let t1 = Instant::now();
                let failure = match outcome {
                    Ok(Response { status: 200, .. }) => None,
                    Ok(Response { status, body }) => Some(format!("HTTP {status}: {}", String::from_utf8_lossy(body))),
                    Err(e) => Some(e),
                };
                if let Some(failure) = failure {
                    result.errors += 1;
                    if !printed_error.swap(true, Ordering::Relaxed) {
                        eprintln!("nimbus-loadgen: first error ({operation}): {failure}");
                    }
                } else if t0 >= measure_from && t1 <= end {
                    result.samples.record((t1 - t0).as_nanos() as u64);
                }
            }
            result
        }));
    }
    let mut samples = Samples::default();
    let mut errors = 0;
    for worker in workers {
        let result = worker.await.map_err(|e| e.to_string())?;
        samples.merge(result.samples);
        errors += result.errors;
    }
    samples.sort();
    let ops = samples.len();
    let round = |x: f64| (x * 10.0).round() / 10.0;
    Ok(json!({
        "target": args.target.clone().unwrap_or_else(|| endpoint.host.clone()),
        "workload": args.workload.name(),
        "connections": args.connections,
        "ops": ops,
        "ops_per_sec": round(ops as f64 / args.duration.as_secs_f64()),
        "p50_us": round(samples.quantile_us(0.5)),
        "p99_us": round(samples.quantile_us(0.99)),
        "p999_us": round(samples.quantile_us(0.999)),
        "errors": errors,
    }))
}

fn main() {
    let args = Args::parse();
    if args.connections == 0 || args.duration.is_zero() {
        eprintln!("nimbus-loadgen: --connections and --duration must be positive");
        std::process::exit(2);
    }
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads).enable_all().build()
    };
    let runtime = runtime.unwrap_or_else(|e| {
        eprintln!("nimbus-loadgen: cannot start the runtime: {e}");
        std::process::exit(1);
    });
    match runtime.block_on(run(Arc::new(args))) {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("nimbus-loadgen: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn items_are_200_bytes() {
        let item: Value = serde_json::from_str(&preload_item(&get_pk(7), &sort_key(3))).unwrap();
        let size: usize = item
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, value)| name.len() + value.get("S").and_then(Value::as_str).map_or(2, str::len))
            .sum();
        assert_eq!(size, ITEM_BYTES);
        let mut body = String::new();
        request_body(Workload::Put, "t", 10, &padding(ITEM_BYTES - 29), &mut body);
        let put: Value = serde_json::from_str(&body).unwrap();
        let size: usize = put["Item"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, value)| name.len() + value["S"].as_str().unwrap().len())
            .sum();
        assert_eq!(size, ITEM_BYTES);
    }

    /// A server that closes an idle keep-alive connection: the next set-up
    /// call goes out again on a new connection.
    #[test]
    fn setup_calls_survive_a_closed_idle_connection() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            for answer in [&b"first"[..], b"second"] {
                let (mut socket, _) = listener.accept().unwrap();
                let mut buf = [0u8; 4096];
                let n = socket.read(&mut buf).unwrap();
                assert!(buf[..n].starts_with(b"POST / HTTP/1.1\r\n"));
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", answer.len());
                socket.write_all(head.as_bytes()).unwrap();
                socket.write_all(answer).unwrap();
                // Dropping the socket closes the connection, as an idle timeout would.
            }
        });
        let args = Args::parse_from(["nimbus-loadgen", "--workload", "get", "--endpoint", &format!("http://{addr}")]);
        let endpoint = Arc::new(parse_endpoint(&args.endpoint).unwrap());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let mut client = Client::new(endpoint, &args);
            assert_eq!(client.setup_call("ListTables", "{}").await.unwrap(), (200, b"first".to_vec()));
            // Let the close arrive before the next call is sent into the dead connection.
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert_eq!(client.setup_call("ListTables", "{}").await.unwrap(), (200, b"second".to_vec()));
        });
        server.join().unwrap();
    }

    #[test]
    fn endpoints_parse() {
        let e = parse_endpoint("http://127.0.0.1:4566").unwrap();
        assert_eq!(e.host, "127.0.0.1:4566");
        assert_eq!(e.addr.port(), 4566);
        assert!(parse_endpoint("https://example.com").is_err());
    }
}
