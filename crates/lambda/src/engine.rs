//! The invoke path: concurrency, an environment (warm, or started cold), the
//! event through the Runtime API, failures as Lambda reports them, and the
//! START/END/REPORT lines and metrics every invocation leaves.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use nimbus_core::{AwsError, Context, LogEvent, LogSink};
use serde_json::json;

use crate::code::CodeStore;
use crate::environment::{EnvSpec, Environment, Launcher, PoolKey};
use crate::model::{FunctionRecord, Functions};
use crate::pool::Pool;
use crate::runtime_api::{Invocation, Reply};
use crate::to_completion::ToCompletion;
use crate::util::{base64_encode, trace_id};

/// How long an on-demand runtime may take to initialise (Lambda's init phase limit).
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// The least time a provisioned environment's init gets.
const PROVISIONED_INIT_TIMEOUT: Duration = Duration::from_secs(130);
/// `X-Amz-Log-Result` carries the last 4 KB of the invocation's log.
const LOG_TAIL_BYTES: usize = 4096;

pub struct Engine {
    /// This engine, for work that must outlive a request (see `invoke`).
    pub me: std::sync::Weak<Engine>,
    pub ctx: Context,
    pub functions: Functions,
    pub code: CodeStore,
    pub pool: Pool,
    pub launcher: Launcher,
    pub logs: Arc<dyn LogSink>,
    pub metrics: crate::metrics::Metrics,
    pub keep_alive: Duration,
    pub endpoint_url: String,
    pub store: Arc<dyn nimbus_store::Store>,
    pub async_wakeup: tokio::sync::Notify,
    pub async_retry_delay: Duration,
    pub provisioned: crate::provisioned::Provisioned,
    pub usage: crate::usage::UsageLog,
    pub iam: crate::iam::IamDoors,
    pub log_writer: crate::log_writer::LogWriter,
    pub prewarming: crate::prewarm::Prewarming,
}

pub struct InvokeInput {
    pub request_id: String,
    pub payload: Bytes,
    /// Decoded ClientContext JSON.
    pub client_context: Option<String>,
    pub tail: bool,
    /// The ARN as invoked (qualified when a version or alias was named).
    pub invoked_arn: String,
}

pub struct InvokeResult {
    pub payload: Bytes,
    pub function_error: Option<String>,
    pub log_tail: Option<String>,
    pub executed_version: String,
}

/// A started environment, or how starting it failed (with the environment,
/// if its process ran).
pub(crate) type ColdStart = Result<Ready, (Option<Arc<Environment>>, Outcome)>;

/// An environment whose runtime asked for work.
pub(crate) struct Ready {
    pub env: Arc<Environment>,
    /// When its init overran the init phase and was retried: from then on it
    /// ran in the first invocation's time (its timeout and Duration), as on
    /// Lambda.
    pub retried_init_at: Option<Instant>,
}

/// How an invocation ended, before it is put into words.
pub(crate) enum Outcome {
    Response(Bytes),
    /// A handled error: the runtime posted to `/error` (or `/init/error`).
    Error(Bytes),
    Exit(String),
    Timeout,
    Unstartable(String),
}

impl Engine {
    /// Invoke `function` (the configuration of `version`) and wait for its
    /// result. As on Lambda, a caller that goes away (closed connection,
    /// client timeout) does not cancel the invocation: the environment
    /// finishes its work (or its init) and goes back to the pool warm
    /// instead of being killed halfway. A warm invocation runs where it is
    /// awaited (see `to_completion`); one that needs a cold start runs in a
    /// task of its own, keeping the start's blocking work (cgroup files,
    /// fork and exec) off the thread that serves the caller's connection.
    pub async fn invoke(
        &self,
        function: &FunctionRecord,
        version: &str,
        input: InvokeInput,
    ) -> Result<InvokeResult, AwsError> {
        let Some(engine) = self.me.upgrade() else {
            // Shutting down: nothing outlives the engine anyway.
            return self.run_invocation(function, version, input).await;
        };
        let warm = self.pool.has_idle(&PoolKey::of(function, version));
        let (function, version) = (function.clone(), version.to_owned());
        let invocation = async move { engine.run_invocation(&function, &version, input).await };
        if warm {
            return ToCompletion::new(invocation).await;
        }
        tokio::spawn(invocation)
            .await
            .unwrap_or_else(|e| Err(crate::util::internal(format!("the invocation task failed: {e}"))))
    }

    /// One invocation, start to finish; see `invoke`.
    async fn run_invocation(
        &self,
        function: &FunctionRecord,
        version: &str,
        input: InvokeInput,
    ) -> Result<InvokeResult, AwsError> {
        let slot = match self.pool.acquire(&function.name) {
            Ok(slot) => slot,
            Err(err) => {
                self.metrics.throttle(&function.name);
                return Err(err);
            }
        };
        let started = Instant::now();
        let key = PoolKey::of(function, version);
        let mut lines: Vec<LogEvent> = Vec::new();
        let warm = match self.pool.take(&key) {
            Some(env) => Some(env),
            None => self.prewarmed(&key).await,
        };
        let (env, cold, retried_init_at) = match warm {
            // One started ahead of traffic reports its init with this
            // invocation (not a retried init's time: no caller waited for it).
            Some(env) => {
                let init_pending = env.init_pending();
                (Some(env), init_pending, None)
            }
            None => match self.cold_start(function, key, false).await? {
                Ok(ready) => (Some(ready.env), true, ready.retried_init_at),
                Err((env, outcome)) => {
                    let duration = started.elapsed();
                    if let Some(env) = &env {
                        lines.extend(env.drain_output(Duration::from_millis(2)).await);
                    }
                    let result = self.finish(function, version, &input, env.as_deref(), duration, outcome, lines).await;
                    drop(slot);
                    return Ok(result);
                }
            },
        };
        let Some(env) = env else { return Err(crate::util::internal("no environment")) };
        if cold {
            lines.extend(env.drain_output(Duration::ZERO).await);
        }
        // The invoke phase began with a retried init, if there was one.
        let invoke_started = retried_init_at.unwrap_or_else(Instant::now);
        let timeout = Duration::from_secs(function.timeout as u64).saturating_sub(invoke_started.elapsed());
        let deadline_ms = nimbus_core::time::now_epoch_millis() + timeout.as_millis() as u64;
        let invocation = Invocation {
            request_id: input.request_id.clone(),
            payload: input.payload.clone(),
            deadline_ms,
            function_arn: input.invoked_arn.clone(),
            trace_id: trace_id(deadline_ms),
            client_context: input.client_context.clone(),
        };
        lines.push(event(format!("START RequestId: {} Version: {version}\n", input.request_id)));
        let outcome = tokio::select! {
            biased;
            reply = env.api.invoke(invocation) => match reply {
                Some(Reply::Response(body)) => Outcome::Response(body),
                Some(Reply::Error { error_type, body }) => Outcome::Error(error_body(error_type, body)),
                None => Outcome::Exit(env.exited().await),
            },
            status = env.exited() => Outcome::Exit(status),
            () = tokio::time::sleep(timeout) => Outcome::Timeout,
        };
        // Duration ends with the answer, not with collecting the output.
        let duration = invoke_started.elapsed();
        let settle = if input.tail { Duration::from_millis(2) } else { Duration::ZERO };
        lines.extend(env.drain_output(settle).await);
        // A runtime that answered stays warm; one that timed out or died goes.
        let keep = matches!(outcome, Outcome::Response(_) | Outcome::Error(_));
        let result = self.finish(function, version, &input, Some(&env), duration, outcome, lines).await;
        if keep && env.is_alive() {
            self.pool.put_back(env);
        } else {
            env.kill();
        }
        drop(slot);
        Ok(result)
    }

    /// Start an environment with the role's credentials and wait for its
    /// runtime to ask for work. The outer error is the API's (the role cannot
    /// be assumed); the inner one how the start failed, as the function's.
    pub(crate) async fn cold_start(
        &self,
        function: &FunctionRecord,
        key: PoolKey,
        provisioned: bool,
    ) -> Result<ColdStart, AwsError> {
        let credentials = self.iam.environment_credentials(function).await?;
        let spec = EnvSpec {
            key,
            function: function.clone(),
            code_dir: self.code.dir(&function.code_id),
            provisioned,
            credentials,
        };
        let (env, mut init) = match self.launcher.start(&spec).await {
            Ok(started) => started,
            Err(message) => return Ok(Err((None, Outcome::Unstartable(message)))),
        };
        let limit = init_phase_limit(function, provisioned);
        let mut retried_init_at = None;
        let result = match wait_for_init(&env, &mut init, limit).await {
            // On demand, Lambda retries an init that overran its 10 s at the
            // first invocation, under the function's timeout. Here the init
            // carries on rather than starting over: under load (many cold
            // starts sharing the CPU) a restart would only overrun again.
            Err(Outcome::Timeout) if !provisioned => {
                let now = Instant::now();
                let ms = now.duration_since(env.started).as_secs_f64() * 1000.0;
                env.note(format!("INIT_REPORT Init Duration: {ms:.2} ms\tPhase: init\tStatus: timeout\n"));
                retried_init_at = Some(now);
                wait_for_init(&env, &mut init, Duration::from_secs(function.timeout as u64)).await
            }
            other => other,
        };
        Ok(match result {
            // Provisioned environments initialise before traffic: no Init Duration to report.
            Ok(()) if provisioned => Ok(Ready { env, retried_init_at }),
            Ok(()) => {
                // A retried init's second part is in the invocation's Duration.
                let init = retried_init_at.unwrap_or_else(Instant::now).duration_since(env.started);
                *env.init_duration.lock().unwrap_or_else(|e| e.into_inner()) = Some(init);
                Ok(Ready { env, retried_init_at })
            }
            Err(outcome) => {
                env.kill();
                Err((Some(env), outcome))
            }
        })
    }

    /// Put an outcome into Lambda's words, write the log lines and metrics.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        function: &FunctionRecord,
        version: &str,
        input: &InvokeInput,
        env: Option<&Environment>,
        duration: Duration,
        outcome: Outcome,
        mut lines: Vec<LogEvent>,
    ) -> InvokeResult {
        let id = &input.request_id;
        if !lines.iter().any(|l| l.message.starts_with("START RequestId:")) {
            lines.push(event(format!("START RequestId: {id} Version: {version}\n")));
        }
        let (payload, failed) = match outcome {
            Outcome::Response(body) => (body, false),
            Outcome::Error(body) => (body, true),
            Outcome::Timeout => {
                let secs = format!("{:.2}", function.timeout as f64);
                let iso = nimbus_core::time::format_iso8601_millis(nimbus_core::time::now_epoch_millis() as i64);
                lines.push(event(format!("{iso} {id} Task timed out after {secs} seconds\n")));
                let body = json!({
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": format!("RequestId: {id} Error: Task timed out after {secs} seconds"),
                });
                if let Some(env) = env {
                    env.kill();
                }
                (Bytes::from(body.to_string()), true)
            }
            Outcome::Exit(_) if env.is_some_and(|e| e.oom_killed()) => {
                // The kernel's OOM killer always sends SIGKILL (whatever the
                // sandbox's wrapper reports as the exit).
                let message = format!("RequestId: {id} Error: Runtime exited with error: signal: killed");
                lines.push(event(format!("{message}\nRuntime.OutOfMemory\n")));
                let body = json!({"errorType": "Runtime.OutOfMemory", "errorMessage": message});
                (Bytes::from(body.to_string()), true)
            }
            Outcome::Exit(status) => {
                let message = format!("RequestId: {id} Error: Runtime exited with error: {status}");
                lines.push(event(format!("{message}\nRuntime.ExitError\n")));
                let body = json!({"errorType": "Runtime.ExitError", "errorMessage": message});
                (Bytes::from(body.to_string()), true)
            }
            Outcome::Unstartable(reason) => {
                let message = format!("RequestId: {id} Error: {reason}");
                lines.push(event(format!("{message}\nRuntime.InvalidEntrypoint\n")));
                let body = json!({"errorType": "Runtime.InvalidEntrypoint", "errorMessage": message});
                (Bytes::from(body.to_string()), true)
            }
        };
        let elapsed = duration.as_secs_f64() * 1000.0;
        let billed = elapsed.ceil().max(1.0) as u64;
        let init = env.and_then(|e| e.init_duration.lock().unwrap_or_else(|p| p.into_inner()).take());
        let max_memory = env.and_then(|e| e.max_memory_mb()).unwrap_or(0).min(function.memory as u64);
        lines.push(event(format!("END RequestId: {id}\n")));
        let mut report = format!(
            "REPORT RequestId: {id}\tDuration: {elapsed:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {} MB\tMax Memory Used: {max_memory} MB\t",
            function.memory
        );
        if let Some(init) = init {
            report.push_str(&format!("Init Duration: {:.2} ms\t", init.as_secs_f64() * 1000.0));
        }
        report.push('\n');
        lines.push(event(report));

        let log_tail = input.tail.then(|| tail(&lines));
        self.usage.record(crate::usage::UsageRecord {
            timestamp_ms: nimbus_core::time::now_epoch_millis(),
            request_id: id.clone(),
            function: function.name.clone(),
            version: version.to_owned(),
            billed_ms: billed,
            memory_mb: function.memory,
            cold: init.is_some(),
            error: failed,
        });
        self.metrics.invocation(&function.name, duration, failed, self.pool.in_flight());
        if let Some(env) = env {
            self.log_writer.push(function.log_group(), env.log_stream.clone(), lines);
        }
        InvokeResult {
            payload,
            function_error: failed.then(|| "Unhandled".to_owned()),
            log_tail,
            executed_version: version.to_owned(),
        }
    }
}

/// Lambda's init phase limit: 10 s on demand; for provisioned concurrency
/// 130 s or the function's timeout, whichever is longer.
fn init_phase_limit(function: &FunctionRecord, provisioned: bool) -> Duration {
    if provisioned {
        PROVISIONED_INIT_TIMEOUT.max(Duration::from_secs(function.timeout as u64))
    } else {
        INIT_TIMEOUT
    }
}

/// Wait up to `limit` for the runtime's first `invocation/next` (init done),
/// its `init/error`, or its exit.
async fn wait_for_init(
    env: &Environment,
    init: &mut tokio::sync::oneshot::Receiver<Result<(), Reply>>,
    limit: Duration,
) -> Result<(), Outcome> {
    tokio::select! {
        biased;
        init = init => match init {
            Ok(Ok(())) => Ok(()),
            Ok(Err(Reply::Error { error_type, body })) => Err(Outcome::Error(error_body(error_type, body))),
            Ok(Err(Reply::Response(body))) => Err(Outcome::Error(body)),
            Err(_) => Err(Outcome::Exit(env.exited().await)),
        },
        status = env.exited() => Err(Outcome::Exit(status)),
        () = tokio::time::sleep(limit) => Err(Outcome::Timeout),
    }
}

/// A runtime that posts an error without a body still gets its type reported.
fn error_body(error_type: Option<String>, body: Bytes) -> Bytes {
    if !body.is_empty() {
        return body;
    }
    let error_type = error_type.unwrap_or_else(|| "Unhandled".into());
    Bytes::from(json!({"errorType": error_type, "errorMessage": ""}).to_string())
}

fn event(message: String) -> LogEvent {
    LogEvent { timestamp_ms: nimbus_core::time::now_epoch_millis() as i64, message }
}

/// The last 4 KB of the log, base64 (cut at a character boundary). The
/// INIT_START platform line goes to CloudWatch Logs only, as on Lambda.
fn tail(lines: &[LogEvent]) -> String {
    let text: String = lines.iter().map(|l| l.message.as_str()).filter(|m| !m.starts_with("INIT_START ")).collect();
    let mut start = text.len().saturating_sub(LOG_TAIL_BYTES);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    base64_encode(&text.as_bytes()[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_4k() {
        let lines = vec![event("x".repeat(5000)), event("END\n".into())];
        let decoded = crate::util::base64_decode(&tail(&lines)).unwrap();
        assert_eq!(decoded.len(), 4096);
        assert!(decoded.ends_with(b"END\n"));
    }
}
