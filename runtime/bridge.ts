// Everything a function can reach inside its isolate, and nothing else.
//
// A fresh context holds only the JavaScript built-ins. Per context (one per invocation, or one per
// pipeline run, whose invocations take it in turn), the BOOTSTRAP below is run in it before the user's code. It receives two host functions as arguments (never as
// globals), as isolated-vm `Callback`s: synchronous, arguments and results copied, no host object
// ever crosses. It keeps them in its closure and defines:
//   tailor.secretmanager.getSecret(vault, name)    -> Promise<string | undefined>
//   tailor.secretmanager.getSecrets(vault, names)  -> Promise<{ [found name]: value }>
//   console.log/info/warn/error/debug              -> captured, formatted to strings in here
// A secret read starts with `hostRead(id, kind, vault, names)`, which returns at once (the isolate
// never waits for the host's thread); the host validates the arguments and sends the request on, or
// refuses it, and answers either way by calling `enter(1, id, status, values)`, a function created
// here that the host holds a Reference to. Guest code never holds a Reference, an
// ExternalCopy or a host function it could misuse: even if it reached the two callbacks through a stack
// trick, they only offer what the API offers, validated and bounded on the host side.
//
// What the sandbox does not have: WebAssembly, SharedArrayBuffer, Atomics and FinalizationRegistry
// are removed, and ArrayBuffer refuses `maxByteLength` (no resizable buffers). isolated-vm's memory
// limit does not count WebAssembly memory or resizable and growable buffers, WebAssembly and
// FinalizationRegistry callbacks run after the invocation has answered, and Atomics.wait sleeps on
// a shared thread; a function that reads secrets and shapes JSON needs none of them.
//
// Texts (log lines, error messages, stacks) are cut in here only ISOLATE_CUT_MARGIN past their
// final limit: the worker redacts them first and cuts them after, so that no cut leaves part of a
// value behind.
//
// The bootstrap captures every built-in it uses before the user's code runs (the user may replace
// JSON.stringify, Array.prototype, Promise.prototype.then, ...), and is strict code, so CallSite
// getFunction()/getThis() give nothing for its frames.
import { isResourceName, isSecretName, RESOURCE_NAME_RULE, SECRET_NAME_RULE } from '../domain/names.ts';
import { ISOLATE_CUT_MARGIN, MAX_LOG_BYTES, MAX_NAMES_PER_CALL, MAX_RESULT_BYTES, MAX_SECRET_CALLS } from './limits.ts';

/** The file name the user's code runs under; the only file name allowed in a stack we report. */
export const FUNCTION_FILENAME = 'function.js';
export const BOOTSTRAP_FILENAME = 'coffer-bootstrap.js';
/**
 * The start of every compiled function (see compile.ts), on one line with the user's first line, so
 * that line numbers match the user's source; columns on line 1 are shifted by its length.
 */
export const SCRIPT_PREFIX = '(async function(){"use strict";';

/** Secret read kinds passed to hostRead. */
export const READ_ONE = 1;
export const READ_MANY = 2;

/**
 * The host's verdict on a read request: undefined when the read was started, otherwise 'T' + message
 * (reject with TypeError) or 'E' + message (reject with Error), sent back as status REFUSED.
 */
export type ReadRefusal = string | undefined;

/** Statuses of `enter(1, id, status, values)`: found, denied, failed, and refused (values[0] is the ReadRefusal). */
export const READ_REFUSED = 3;

/** Host-side argument check for a secret read, run BEFORE anything is looked up. */
export function checkSecretRequest(kind: number, vault: unknown, names: unknown): ReadRefusal {
  if (!isResourceName(vault)) return `Tvault must be a vault name (${RESOURCE_NAME_RULE})`;
  if (kind === READ_ONE) {
    return isSecretName(names) ? undefined : `Tname must be a secret name (${SECRET_NAME_RULE})`;
  }
  if (!Array.isArray(names)) return 'Tnames must be an array of secret names';
  if (names.length > MAX_NAMES_PER_CALL) return `Tat most ${MAX_NAMES_PER_CALL} names per getSecrets call`;
  for (const n of names) if (!isSecretName(n)) return `Tnames must be secret names (${SECRET_NAME_RULE})`;
  return undefined;
}

/**
 * Evaluates to `function (hostRead, hostLog) -> enter`. `enter(0, factory, argsJson, validateOnly)`
 * starts an invocation afresh (reads open, read and log budgets whole), runs the function (with no
 * argument at all when argsJson is undefined) and resolves to one encoded string (see decodeRun in worker.ts):
 *   'r' + result JSON | 'x' + why the result is not JSON | 'L' + JSON length (too large)
 *   'e' + name.length + ':' + message.length + ':' + name + message + stack    (thrown)
 *   'v' (validate: callable) | 'n' + typeof default export (not callable)
 * `enter(1, id, status, values)` settles a pending secret read.
 */
export const BOOTSTRAP = `(function (hostRead, hostLog) {
"use strict";
const freeze = Object.freeze, defineProperty = Object.defineProperty, apply = Reflect.apply;
const jsonParse = JSON.parse, jsonStringify = JSON.stringify, isArray = Array.isArray;
const toStr = String, slice = String.prototype.slice, symbolToString = Symbol.prototype.toString;
const Err = Error, TypeErr = TypeError, Prom = Promise;
const MARGIN = ${ISOLATE_CUT_MARGIN};
const MAX_LOG = ${MAX_LOG_BYTES} + MARGIN, MAX_RESULT = ${MAX_RESULT_BYTES} + MARGIN, MAX_NAMES = ${MAX_NAMES_PER_CALL};
const MAX_READS = ${MAX_SECRET_CALLS};
{
  for (const name of ["WebAssembly", "SharedArrayBuffer", "Atomics", "FinalizationRegistry"]) delete globalThis[name];
  const RealArrayBuffer = ArrayBuffer, construct = Reflect.construct;
  const proto = RealArrayBuffer.prototype;
  delete proto.resize;
  const FixedArrayBuffer = function ArrayBuffer(length) {
    if (new.target === undefined) throw new TypeErr("Constructor ArrayBuffer requires 'new'");
    if (arguments.length > 1 && arguments[1] !== undefined) throw new TypeErr("resizable ArrayBuffers are not available in functions");
    return construct(RealArrayBuffer, [length], new.target);
  };
  defineProperty(FixedArrayBuffer, "prototype", { value: proto, writable: false, enumerable: false, configurable: false });
  defineProperty(FixedArrayBuffer, "isView", { value: RealArrayBuffer.isView, writable: true, enumerable: false, configurable: true });
  defineProperty(proto, "constructor", { value: FixedArrayBuffer, writable: true, enumerable: false, configurable: true });
  defineProperty(globalThis, "ArrayBuffer", { value: FixedArrayBuffer, writable: true, enumerable: false, configurable: true });
}
let pending = Object.create(null);
let nextId = 1, reads = 0, closed = false, logOpen = true;

const cut = (s, n) => (s.length > n ? apply(slice, s, [0, n]) : s);
const str = (v) => { try { return typeof v === "string" ? v : toStr(v); } catch { return ""; } };
const own = (o, k) => { try { const v = o[k]; return typeof v === "string" ? v : ""; } catch { return ""; } };
const prop = (value) => ({ value, enumerable: true, writable: true, configurable: true });

function format(v) {
  try {
    switch (typeof v) {
      case "string": return v;
      case "symbol": return apply(symbolToString, v, []);
      case "bigint": return toStr(v) + "n";
      case "function": return "[Function" + (own(v, "name") ? ": " + own(v, "name") : "") + "]";
      case "object": {
        if (v === null) return "null";
        const stack = own(v, "stack");
        if (stack) return stack;
        try { const j = jsonStringify(v); if (typeof j === "string") return j; } catch {}
        return str(v);
      }
      default: return toStr(v);
    }
  } catch { return "[unprintable]"; }
}

function emit(level, args) {
  if (!logOpen) return;
  let msg = "";
  for (let i = 0; i < args.length && msg.length < MAX_LOG; i++) msg += (i > 0 ? " " : "") + format(args[i]);
  if (hostLog(level, cut(msg, MAX_LOG)) !== true) logOpen = false;
}
const console = freeze({
  log: function log(...a) { emit("log", a); }, info: function info(...a) { emit("info", a); },
  warn: function warn(...a) { emit("warn", a); }, error: function error(...a) { emit("error", a); },
  debug: function debug(...a) { emit("debug", a); },
});

function read(kind, vault, names) {
  let settle;
  const promise = new Prom((resolve, reject) => { settle = { resolve, reject, kind, vault, names }; });
  if (closed) { settle.reject(new Err("secret reads are closed: the invocation has ended")); return promise; }
  // The host counts too; counted here as well, a flood of calls past the cap never reaches it.
  if (++reads > MAX_READS) { settle.reject(new Err("at most " + MAX_READS + " secret reads per invocation")); return promise; }
  const id = nextId++;
  pending[id] = settle;
  hostRead(id, kind, vault, names);
  return promise;
}
const onlyString = (v) => (typeof v === "string" ? v : null);
const secretmanager = freeze({
  getSecret: freeze(function getSecret(vault, name) { return read(1, onlyString(vault), onlyString(name)); }),
  getSecrets: freeze(function getSecrets(vault, names) {
    let list = null;
    if (isArray(names)) {
      const n = names.length > MAX_NAMES ? MAX_NAMES + 1 : names.length;
      list = [];
      for (let i = 0; i < n; i++) defineProperty(list, i, prop(onlyString(names[i])));
    }
    return read(2, onlyString(vault), list);
  }),
});
defineProperty(globalThis, "tailor", { value: freeze({ secretmanager }), writable: false, enumerable: false, configurable: false });
defineProperty(globalThis, "console", { value: console, writable: true, enumerable: false, configurable: true });

function settle(id, status, values) {
  const s = pending[id];
  if (s === undefined) return;
  delete pending[id];
  if (status === ${READ_REFUSED}) {
    const refusal = typeof values[0] === "string" ? values[0] : "Esecret read failed";
    const message = apply(slice, refusal, [1]);
    return s.reject(refusal[0] === "T" ? new TypeErr(message) : new Err(message));
  }
  if (status === 1) return s.reject(new Err("access denied to vault \\"" + s.vault + "\\""));
  if (status !== 0) return s.reject(new Err("secret read failed"));
  if (s.kind === 1) return s.resolve(values[0] === null ? undefined : values[0]);
  const found = {};
  for (let i = 0; i < s.names.length; i++) if (values[i] !== null) defineProperty(found, s.names[i], prop(values[i]));
  s.resolve(found);
}

function describe(e) {
  let name = "Error", message = "", stack = "";
  if (e !== null && (typeof e === "object" || typeof e === "function")) {
    name = own(e, "name") || "Error"; message = own(e, "message"); stack = own(e, "stack");
  } else message = "a non-Error value was thrown: " + cut(str(e), 4096 + MARGIN);
  name = cut(name, 100 + MARGIN); message = cut(message, 4096 + MARGIN); stack = cut(stack, 16384 + MARGIN);
  return "e" + name.length + ":" + message.length + ":" + name + message + stack;
}

function serialize(value) {
  let json;
  try { json = jsonStringify(value === undefined ? null : value); }
  catch (e) { return "x" + "the result cannot be serialised to JSON: " + cut(own(e, "message") || "unknown error", 300 + MARGIN); }
  if (typeof json !== "string") return "x" + "the result cannot be serialised to JSON: a " + typeof value + " has no JSON form";
  return json.length > MAX_RESULT ? "L" + json.length : "r" + json;
}

async function run(factory, argsJson, validateOnly) {
  // A pipeline run's invocations come one after another in one context: each starts afresh. A read
  // an earlier one left unanswered stays so (the host drops answers for an invocation that ended).
  pending = Object.create(null);
  reads = 0; closed = false; logOpen = true;
  try {
    const args = argsJson === undefined ? undefined : jsonParse(argsJson);
    const fn = await factory();
    if (validateOnly || typeof fn !== "function") return typeof fn === "function" ? "v" : "n" + typeof fn;
    const value = await fn(args);
    closed = true;
    return serialize(value);
  } catch (e) {
    closed = true;
    return describe(e);
  }
}

return function enter(op, a, b, c) {
  if (op === 0) return run(a, b, c);
  settle(a, b, c);
};
})`;
