// A pipeline run inside one worker: its steps in order, without a round trip through the gateway
// between them. Each invocation (a step's function, once or once per forEach item, and each
// evaluation of the expression module) is an ordinary invocation of worker.ts, with its own
// timeout (never past the run's deadline) and its own redaction, in the run's context for its
// memory size: the worker hands one context from each of the run's invocations to the next and
// drops it when the run has answered (worker.ts, RunShare). This file only sequences them and
// carries outputs from one step to the next.
//
// Secret reads still go to the gateway, one message per read naming the run's invocation and step,
// so each read is grant-checked and audited with its step; expressions cannot read secrets at all
// (refused here, before anything leaves the worker). Every value a run read is kept until it ends:
// its logs, errors and (unless the pipeline exposes secrets) its value are redacted with all of
// them, as a step's logs may print what a later step read.
import { MAX_ERROR_MESSAGE_CHARS } from './limits.ts';
import { createRedactor, redactJsonResult } from './redact.ts';
import type { LogLine } from './errors.ts';
import type { FromWorker, IsolateCounts, PipeMessage, PipeStepDone, ToWorker } from './protocol.ts';

type RunMessage = Extract<ToWorker, { t: 'run' }>;
type Done = Extract<FromWorker, { t: 'done' }>;
type StepFailure = { code: string; m: string; st?: string; j?: number };

/** Below this much time left, no invocation is started. */
const MIN_INVOCATION_MS = 10;

export interface InvocationHost<R> {
  /** A run's hold on its contexts, let go once `answered` resolves. */
  openRun(answered: Promise<void>): R;
  /** Starts an invocation of the run; its messages go to `sink`, not to the gateway. */
  start(msg: RunMessage, sink: (m: FromWorker) => void, run: R): void;
  /** Settles a pending secret read of a started invocation. */
  answer(i: number, r: number, s: 0 | 1 | 2, x: (string | null)[] | undefined): void;
  /** Stops a started invocation without an answer (its isolate is disposed). */
  abort(i: number): void;
  /** The source of a script this worker holds, by key. */
  source(k: string): string | undefined;
  send(m: FromWorker): void;
  rss(): number;
  /** The worker's isolate counts, as a pdone reports them. */
  isolates(): IsolateCounts;
}

interface Run<R> {
  msg: PipeMessage;
  /** The worker's hold on the run's contexts. */
  contexts: R;
  deadline: number;
  closed: boolean;
  /** Every value read in the run. */
  values: Set<string>;
  /** Resolved once the run's answer is sent. */
  answered: PromiseWithResolvers<void>;
  /** The run's invocation number -> the worker's number for it, while it runs. */
  live: Map<number, { local: number; step: number; fail(f: StepFailure): void }>;
  nextJ: number;
  cpu: number;
}

export function createPipelineRuns<R>(host: InvocationHost<R>) {
  const runs = new Map<number, Run<R>>();
  let nextLocal = -1;

  /** One invocation; resolves to its done message, or to a failure the run imposed (a read cap). */
  function invoke(run: Run<R>, step: number, expression: boolean, spec: { k: string; s?: string; to: number; mb: number; e?: true }, argsJson: string): Promise<{ j: number; done: Done } | { j: number; failure: StepFailure }> {
    const j = run.nextJ++;
    const local = nextLocal--;
    if (nextLocal < -Number.MAX_SAFE_INTEGER + 1) nextLocal = -1;
    return new Promise((resolve) => {
      let settled = false;
      const settle = (v: { j: number; done: Done } | { j: number; failure: StepFailure }) => {
        if (settled) return;
        settled = true;
        run.live.delete(j);
        resolve(v);
      };
      run.live.set(j, {
        local, step, fail: (failure) => { host.abort(local); settle({ j, failure: { ...failure, j } }); },
      });
      const timeout = Math.max(1, Math.min(spec.to, run.deadline - Date.now()));
      host.start({
        t: 'run', i: local, w: run.msg.w, k: spec.k, s: spec.s, to: timeout, mb: spec.mb, a: argsJson, ...(spec.e || expression ? { e: true as const } : {}),
      }, (m) => {
        if (m.t === 'sec') {
          if (expression || run.closed) host.answer(local, m.r, 1, undefined);
          else host.send({ t: 'psec', i: run.msg.i, j, p: step, r: m.r, v: m.v, n: m.n });
        } else if (m.t === 'done') {
          run.cpu += typeof m.c === 'number' ? m.c : 0;
          settle({ j, done: m });
        } else if (m.t === 'miss') {
          settle({ j, failure: { code: 'worker_crashed', m: 'the worker lost a step\'s script', j } });
        }
      }, run.contexts);
    });
  }

  async function execute(run: Run<R>): Promise<void> {
    const { msg } = run;
    const base = JSON.parse(msg.c) as { args: unknown; caller: unknown };
    const outputs: Record<string, unknown> = {};
    const steps: (PipeStepDone & { raw: LogLine[] })[] = msg.st.map(() => ({ st: 'not_run', d: 0, js: [], l: [], raw: [] }));
    const deadlineFailure = (): StepFailure => ({ code: 'timeout', m: `the run passed its ${msg.to} ms deadline` });
    const context = () => ({ args: base.args, pipeline: outputs, caller: base.caller });

    /** One evaluation of the expression module (see api/pipelines/expressions.ts for its requests). */
    const evaluate = async (step: number, request: Record<string, unknown>, logs: LogLine[]): Promise<{ ok: true; value: any } | { ok: false; failure: StepFailure }> => {
      if (!msg.x) return { ok: false, failure: { code: 'internal', m: 'the pipeline has no expression module' } };
      if (run.deadline - Date.now() < MIN_INVOCATION_MS) return { ok: false, failure: deadlineFailure() };
      const out = await invoke(run, step, true, msg.x, JSON.stringify({ ...request, context: context() }));
      return settleOutput(out, logs);
    };

    const settleOutput = (out: Awaited<ReturnType<typeof invoke>>, logs: LogLine[]): { ok: true; value: any } | { ok: false; failure: StepFailure } => {
      if ('failure' in out) return { ok: false, failure: out.failure };
      const d = out.done;
      logs.push(...d.l);
      if (!d.ok) return { ok: false, failure: { code: d.code === 'not_callable' ? 'function_error' : d.code, m: d.m, ...(d.st ? { st: d.st } : {}), j: out.j } };
      try {
        return { ok: true, value: JSON.parse(d.r) };
      } catch {
        return { ok: false, failure: { code: 'invalid_result', m: 'the result is not valid JSON', j: out.j } };
      }
    };

    const runStep = async (i: number, rec: PipeStepDone & { raw: LogLine[] }): Promise<{ ok: true; output: unknown; skipped?: true } | { ok: false; failure: StepFailure }> => {
      const step = msg.st[i];
      let inputs: unknown[];
      if (step.p) {
        const plan = await evaluate(i, { step: i }, rec.raw);
        if (!plan.ok) return plan;
        if (plan.value && plan.value.skip) return { ok: true, output: null, skipped: true };
        inputs = Array.isArray(plan.value?.inputs) ? plan.value.inputs : [];
      } else {
        inputs = [{ args: base.args, pipeline: outputs }];
      }
      if (step.nf !== undefined) return { ok: false, failure: { code: 'not_found', m: step.nf } };
      const results: unknown[] = [];
      for (const input of inputs) {
        if (run.deadline - Date.now() < MIN_INVOCATION_MS) return { ok: false, failure: deadlineFailure() };
        const out = await invoke(run, i, false, step, JSON.stringify(input === undefined ? null : input));
        rec.js.push(out.j);
        const r = settleOutput(out, rec.raw);
        if (!r.ok) return r;
        results.push(r.value);
      }
      return { ok: true, output: step.f ? results : results[0] };
    };

    let failure: (StepFailure & { p?: number }) | undefined;
    let value: unknown = null;
    for (let i = 0; i < msg.st.length && !failure; i++) {
      const rec = steps[i];
      const t0 = performance.now();
      const r = await runStep(i, rec);
      rec.d = Math.round(performance.now() - t0);
      if (r.ok) {
        rec.st = r.skipped ? 'skipped' : 'ok';
        outputs[msg.st[i].n] = r.output;
        value = r.output;
        continue;
      }
      rec.st = 'failed';
      rec.code = r.failure.code;
      rec.m = r.failure.m;
      // A timeout or an overload is the run's trouble, not the step's: skipping it would not help.
      if (msg.st[i].sk && r.failure.code !== 'overloaded' && r.failure.code !== 'timeout') {
        outputs[msg.st[i].n] = null;
        value = null;
        continue;
      }
      failure = { ...r.failure, p: i };
    }
    if (!failure && msg.r) {
      const r = await evaluate(-1, { result: true }, []);
      if (r.ok) value = r.value?.value ?? null;
      else failure = { ...r.failure, p: -1 };
    }
    run.closed = true;
    runs.delete(msg.i);

    // Redaction with every value of the run: a step's log may print what another step read.
    const redactor = createRedactor(run.values);
    const clean = (t: string) => redactor.text(t);
    const done: PipeStepDone[] = steps.map(({ raw, ...s }) => ({
      ...s, l: raw.map((l) => ({ level: l.level, message: clean(l.message), at: l.at })), ...(s.m !== undefined ? { m: clean(s.m).slice(0, MAX_ERROR_MESSAGE_CHARS) } : {}),
    }));
    const tail = { steps: done, c: Math.max(0, run.cpu), rss: host.rss(), iso: host.isolates() };
    if (failure) {
      host.send({
        t: 'pdone', i: msg.i, ok: false, code: failure.code, m: clean(failure.m).slice(0, MAX_ERROR_MESSAGE_CHARS),
        ...(failure.st ? { st: clean(failure.st) } : {}), ...(failure.p !== undefined ? { p: failure.p } : {}), ...(failure.j !== undefined ? { j: failure.j } : {}), ...tail,
      });
      return;
    }
    let json = JSON.stringify(value === undefined ? null : value);
    if (!msg.e && !redactor.empty) json = JSON.stringify(redactJsonResult(json, redactor));
    host.send({ t: 'pdone', i: msg.i, ok: true, r: json, ...tail });
  }

  return {
    /** Runs under way. */
    get active() { return runs.size; },

    receive(msg: PipeMessage): void {
      // Every script the run needs is taken now, so none can be evicted under it; one the worker
      // lost is asked for again, for the whole run (the gateway resends it with every script).
      for (const spec of [...msg.st, ...(msg.x ? [msg.x] : [])]) {
        if ((spec as { nf?: string }).nf !== undefined) continue;
        spec.s ??= host.source(spec.k);
        if (spec.s === undefined) { host.send({ t: 'miss', i: msg.i }); return; }
      }
      const answered = Promise.withResolvers<void>();
      const run: Run<R> = {
        msg, contexts: host.openRun(answered.promise), deadline: Date.now() + msg.to, closed: false, values: new Set(), answered, live: new Map(), nextJ: 0, cpu: 0,
      };
      runs.set(msg.i, run);
      execute(run).catch(() => {
        // Only a bug gets here (every invocation resolves); answer rather than leave the run hanging.
        run.closed = true;
        runs.delete(msg.i);
        host.send({ t: 'pdone', i: msg.i, ok: false, code: 'worker_crashed', m: 'the worker could not run the pipeline', steps: [], c: 0, rss: host.rss(), iso: host.isolates() });
      }).finally(() => run.answered.resolve());
    },

    onSecretAnswer(m: Extract<ToWorker, { t: 'psec' }>): void {
      const run = runs.get(m.i);
      const inv = run?.live.get(m.j);
      if (!run || !inv) return;
      if (m.s === 3) {
        inv.fail({ code: 'secret_read_limit', m: typeof m.m === 'string' ? m.m : 'a per-invocation secret read limit was reached' });
        return;
      }
      for (const v of m.x ?? []) if (typeof v === 'string') run.values.add(v);
      host.answer(inv.local, m.r, m.s, m.x);
    },
  };
}
