// Nimbus's Node.js runtime: a Lambda Runtime API client.
//
// Loads the handler named by _HANDLER ("file.export", file relative to
// LAMBDA_TASK_ROOT, .js/.mjs/.cjs; .js is an ES module under a package.json
// with "type": "module"), then loops over invocation/next. Handlers
// may be async (return a promise) or take a callback; with a callback,
// context.callbackWaitsForEmptyEventLoop (default true) decides whether the
// response waits for the event loop to drain, as on AWS. Errors are reported
// as {errorType, errorMessage, trace}.
"use strict";

const http = require("http");
const path = require("path");
const fs = require("fs");
const { pathToFileURL } = require("url");

const [HOST, PORT] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const BASE = "/2018-06-01/runtime";
let currentRequestId = "undefined";
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(method, urlPath, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: HOST, port: Number(PORT), method, path: BASE + urlPath, agent, headers: headers || {} },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function errorShape(err) {
  if (err instanceof Error) {
    return {
      errorType: err.name || "Error",
      errorMessage: err.message,
      trace: (err.stack || "").split("\n"),
    };
  }
  return { errorType: typeof err === "string" ? "string" : typeof err, errorMessage: String(err), trace: [] };
}

async function postError(urlPath, shape) {
  await request("POST", urlPath, JSON.stringify(shape), {
    "Content-Type": "application/json",
    "Lambda-Runtime-Function-Error-Type": shape.errorType,
  });
}

async function initError(errorType, message, err) {
  const shape = err ? { ...errorShape(err), errorType } : { errorType, errorMessage: message, trace: [] };
  if (message) shape.errorMessage = message;
  console.error(`${new Date().toISOString()}\tundefined\tERROR\t${JSON.stringify(shape)}`);
  await postError("/init/error", shape);
  process.exit(1);
}

// Where ES modules should find what they lack (`--esm-fallback <node_modules>`):
// the AWS SDK Nimbus provides (crates/lambda/src/node_sdk.rs), when it is not
// on their resolution path already (the sandbox mounts it there).
function esmFallback() {
  const at = process.argv.indexOf("--esm-fallback");
  return at > 0 ? process.argv[at + 1] : null;
}

// CommonJS finds the SDK through NODE_PATH, which ES modules ignore: a
// resolve hook retries the bare specifiers the function's own node_modules
// lack from the SDK's directory (so what the function bundles wins). It
// runs on a loader thread, which costs a cold start ~150 ms.
function resolveEsmFrom(dir) {
  const { register } = require("module");
  if (typeof register !== "function") return; // Node < 18.19 / 20.6
  const parentURL = pathToFileURL(path.join(path.dirname(dir), "nimbus-sdk-importer.js")).href;
  const hooks = `
    const SDK = ${JSON.stringify(parentURL)};
    export async function resolve(specifier, context, next) {
      try {
        return await next(specifier, context);
      } catch (err) {
        const bare = !/^[./]/.test(specifier) && !specifier.includes(":");
        if (!bare || !err || err.code !== "ERR_MODULE_NOT_FOUND") throw err;
        try {
          return await next(specifier, { ...context, parentURL: SDK });
        } catch {
          throw err;
        }
      }
    }`;
  register("data:text/javascript," + encodeURIComponent(hooks));
}

// Whether Node loads `file` as an ES module: .mjs, or .js under a
// package.json (the nearest one) saying "type": "module".
function isEsModule(file) {
  if (file.endsWith(".mjs")) return true;
  if (!file.endsWith(".js")) return false;
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    try {
      return JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).type === "module";
    } catch (err) {
      if (err.code !== "ENOENT") return false;
    }
    if (path.dirname(dir) === dir) return false;
  }
}

async function loadHandler() {
  const spec = process.env._HANDLER || "";
  const dot = spec.lastIndexOf(".");
  if (dot < 0) return initError("Runtime.MalformedHandlerName", `Bad handler ${spec}`);
  const moduleName = spec.slice(0, dot);
  const exportName = spec.slice(dot + 1);
  const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
  let file = null;
  for (const ext of [".js", ".mjs", ".cjs", ""]) {
    const candidate = path.resolve(root, moduleName + ext);
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
      file = candidate;
      break;
    }
  }
  if (!file) {
    return initError("Runtime.ImportModuleError", `Error: Cannot find module '${moduleName}'`);
  }
  let mod;
  try {
    if (isEsModule(file)) {
      const fallback = esmFallback();
      if (fallback) resolveEsmFrom(fallback);
      mod = await import(pathToFileURL(file).href);
    } else {
      mod = require(file);
    }
  } catch (err) {
    if (err instanceof SyntaxError) return initError("Runtime.UserCodeSyntaxError", `${err.name}: ${err.message}`, err);
    return initError("Runtime.ImportModuleError", `${err.name}: ${err.message}`, err);
  }
  let handler = mod[exportName];
  if (handler === undefined && mod.default) handler = mod.default[exportName];
  if (typeof handler !== "function") {
    return initError("Runtime.HandlerNotFound", `${moduleName}.${exportName} is undefined or not exported`);
  }
  return handler;
}

function makeContext(headers) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"] || 0);
  const clientContext = headers["lambda-runtime-client-context"];
  const identity = headers["lambda-runtime-cognito-identity"];
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: clientContext ? JSON.parse(clientContext) : undefined,
    identity: identity ? JSON.parse(identity) : undefined,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

// Run the handler; resolve with {ok, value} once it has an answer (and,
// for callbacks with callbackWaitsForEmptyEventLoop, once the loop drains).
function run(handler, event, context) {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const callback = (err, value) => {
      const outcome = err !== undefined && err !== null ? { ok: false, value: err } : { ok: true, value };
      if (context.callbackWaitsForEmptyEventLoop) {
        // Answer once nothing else is scheduled: setImmediate chains after pending I/O callbacks.
        waitForEmptyLoop(() => finish(outcome));
      } else {
        finish(outcome);
      }
    };
    context.done = (err, value) => callback(err, value);
    context.succeed = (value) => callback(null, value);
    context.fail = (err) => callback(err);
    try {
      const result = handler(event, context, callback);
      if (result && typeof result.then === "function") {
        result.then((value) => finish({ ok: true, value }), (err) => finish({ ok: false, value: err }));
      } else if (handler.length < 3 && result !== undefined) {
        finish({ ok: true, value: result });
      } else if (handler.length < 3) {
        // Neither a promise nor a callback: answer null once the loop drains, as AWS does.
        waitForEmptyLoop(() => finish({ ok: true, value: null }));
      }
    } catch (err) {
      finish({ ok: false, value: err });
    }
  });
}

function waitForEmptyLoop(done) {
  const check = () => {
    const active = process.getActiveResourcesInfo
      ? process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap" && r !== "Immediate" && r !== "TCPSocketWrap" && r !== "PipeWrap")
      : [];
    if (active.length === 0) done();
    else setTimeout(check, 1);
  };
  setImmediate(check);
}

async function main() {
  const handler = await loadHandler();
  for (;;) {
    const next = await request("GET", "/invocation/next");
    if (next.status !== 200) process.exit(0);
    const requestId = next.headers["lambda-runtime-aws-request-id"];
    currentRequestId = requestId;
    process.env._X_AMZN_TRACE_ID = next.headers["lambda-runtime-trace-id"] || "";
    const context = makeContext(next.headers);
    let event;
    try {
      event = next.body.length ? JSON.parse(next.body.toString("utf8")) : {};
    } catch (err) {
      await postError(`/invocation/${requestId}/error`, errorShape(err));
      continue;
    }
    const outcome = await run(handler, event, context);
    if (outcome.ok) {
      const body = outcome.value === undefined ? "null" : JSON.stringify(outcome.value);
      await request("POST", `/invocation/${requestId}/response`, body, { "Content-Type": "application/json" });
    } else {
      const shape = errorShape(outcome.value);
      console.error(`${new Date().toISOString()}\t${requestId}\tERROR\tInvoke Error \t${JSON.stringify(shape)}`);
      await postError(`/invocation/${requestId}/error`, shape);
    }
  }
}

// console.log lines carry timestamp, request id and level, as on AWS.
for (const [level, name] of [["log", "INFO"], ["info", "INFO"], ["warn", "WARN"], ["error", "ERROR"], ["debug", "DEBUG"]]) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    const util = require("util");
    process.stdout.write(`${new Date().toISOString()}\t${currentRequestId}\t${name}\t${util.format(...args)}\n`);
    void original;
  };
}

main().catch((err) => {
  process.stderr.write(`runtime failure: ${err && err.stack}\n`);
  process.exit(1);
});
