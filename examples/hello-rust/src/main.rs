//! A `provided.al2023` function in Rust with no dependencies: the Lambda
//! Runtime API loop by hand (next invocation, then its response), to show
//! the whole contract. Real applications usually use the `lambda_runtime`
//! crate, which speaks the same API.
//!
//! GET /hello?name=you → {"message": "Hello, you!"} (HTTP API, payload 2.0).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

fn main() {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").expect("AWS_LAMBDA_RUNTIME_API is set by the runtime");
    loop {
        let (request_id, event) = match call(&api, "GET", "/2018-06-01/runtime/invocation/next", "") {
            Ok(next) => next,
            Err(e) => {
                eprintln!("runtime API unreachable: {e}");
                std::process::exit(1);
            }
        };
        let name = query_param(&event, "name").unwrap_or_else(|| "world".to_owned());
        let body = format!("{{\"message\": \"Hello, {}!\"}}", name.replace(['"', '\\'], ""));
        let response = format!(
            "{{\"statusCode\": 200, \"headers\": {{\"Content-Type\": \"application/json\"}}, \"body\": {}}}",
            json_string(&body)
        );
        let path = format!("/2018-06-01/runtime/invocation/{request_id}/response");
        if let Err(e) = call(&api, "POST", &path, &response) {
            eprintln!("could not post the response: {e}");
        }
    }
}

/// One HTTP/1.1 exchange: the `Lambda-Runtime-Aws-Request-Id` header and the body.
fn call(api: &str, method: &str, path: &str, body: &str) -> std::io::Result<(String, String)> {
    let mut stream = TcpStream::connect(api)?;
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {api}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
    let mut reader = BufReader::new(stream);
    let mut request_id = String::new();
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("lambda-runtime-aws-request-id:") {
            request_id = line[line.len() - v.len()..].trim().to_owned();
        }
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = String::new();
    match length {
        Some(n) => {
            let mut buf = vec![0; n];
            reader.read_exact(&mut buf)?;
            body = String::from_utf8_lossy(&buf).into_owned();
        }
        None => {
            reader.read_to_string(&mut body)?;
        }
    }
    Ok((request_id, body))
}

/// `"name":"you"` inside the event's `queryStringParameters`, without a JSON library.
fn query_param(event: &str, key: &str) -> Option<String> {
    let params = &event[event.find("\"queryStringParameters\"")?..];
    let after = &params[params.find(&format!("\"{key}\""))? + key.len() + 2..];
    let start = after.find('"')? + 1;
    let end = start + after[start..].find('"')?;
    Some(after[start..end].to_owned())
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
