//! SigV4 cost per request: sign a DynamoDB GetItem as the SDKs do, then
//! verify it, as the edge does for every call. Times are this thread's CPU
//! time (from /proc/thread-self/schedstat), so a busy machine slows the
//! run but does not inflate the numbers.
//!
//! `cargo run --release -p nimbus-iam --bin sigv4_bench [iterations]`

use std::hint::black_box;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue};
use nimbus_iam::sigv4::{SignedRequest, Signer};
use nimbus_iam::{StaticCredentials, Verifier};

const BODY: &[u8] = br#"{"TableName":"bench","Key":{"pk":{"S":"p000000042"},"sk":{"S":"s000"}}}"#;

fn main() {
    let iterations: u32 = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(200_000);
    let now = nimbus_core::time::now_epoch_seconds();
    let signer = Signer::new("test", "test", "us-east-1", "dynamodb");
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("127.0.0.1:4566"));
    headers.insert("content-type", HeaderValue::from_static("application/x-amz-json-1.0"));
    headers.insert("x-amz-target", HeaderValue::from_static("DynamoDB_20120810.GetItem"));

    let started = cpu_ns();
    for _ in 0..iterations {
        black_box(signer.sign("POST", "/", "", black_box(&headers), BODY, now));
    }
    let sign_ns = (cpu_ns() - started) as f64 / f64::from(iterations);

    for (name, value) in signer.sign("POST", "/", "", &headers, BODY, now) {
        headers.insert(name, HeaderValue::from_str(&value).expect("header value"));
    }
    let verifier = Verifier::new(Arc::new(StaticCredentials::root("000000000000", "test", "test")), "us-east-1");
    let request = SignedRequest { method: "POST", path: "/", query: "", headers: &headers, body: BODY };
    verifier.verify(&request, "dynamodb", now).expect("the signed request verifies");
    let started = cpu_ns();
    for _ in 0..iterations {
        black_box(verifier.verify(black_box(&request), "dynamodb", now).is_ok());
    }
    let verify_ns = (cpu_ns() - started) as f64 / f64::from(iterations);
    println!("{{\"iterations\":{iterations},\"sign_ns\":{sign_ns:.0},\"verify_ns\":{verify_ns:.0}}}");
}

/// Nanoseconds this thread has run on a CPU.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .expect("/proc/thread-self/schedstat (Linux)")
}
