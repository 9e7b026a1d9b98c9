// A pipeline version's expressions (`if`, `forEach`, `input`, `result`) become one sandbox module,
// compiled once at deploy like a function and run by the runtime like one: the gateway never
// evaluates them. Each expression was checked at PUT to be exactly one expression (spec.ts), so
// wrapping it in `(...)` inside an arrow function cannot change what it means.
//
// The module's default export answers two requests:
//   {step: i, context}   -> {skip: true} | {inputs: [...]}   (one input per invocation of step i)
//   {result: true, context} -> {value}
import { compileFunction } from '../../runtime/index.ts';
import type { PipelineSpec } from './spec.ts';

export const MAX_FOREACH_ITEMS = 100;

export type StepPlan = { skip: true } | { inputs: unknown[] };

export function buildExpressionModule(spec: PipelineSpec): string {
  const exprs: string[] = [];
  const add = (label: string, source: string | undefined): number => {
    if (source === undefined) return -1;
    // The label is ours (a step name from a strict pattern), never user text with quotes.
    exprs.push(`async (context) => { const { args, pipeline, caller, item, index } = context; try { return (${source}\n); } catch (e) { throw $wrap(${JSON.stringify(label)}, e); } }`);
    return exprs.length - 1;
  };
  const steps = spec.steps.map((s) => ({ if: add(`${s.name}: if`, s.if), forEach: add(`${s.name}: forEach`, s.forEach), input: add(`${s.name}: input`, s.input) }));
  const result = add('result', spec.result);
  return `
const $wrap = (label, e) => {
  const message = e && typeof e === "object" && typeof e.message === "string" ? e.message : String(e);
  const wrapped = new Error(label + ": " + message);
  return wrapped;
};
const $x = [
${exprs.join(',\n')}
];
const $steps = ${JSON.stringify(steps)};
const $result = ${result};
export default async (req) => {
  const context = req.context;
  if (req.result) return { value: $result < 0 ? null : await $x[$result](context) };
  const s = $steps[req.step];
  if (s.if >= 0 && !(await $x[s.if](context))) return { skip: true };
  if (s.forEach >= 0) {
    const list = await $x[s.forEach](context);
    if (!Array.isArray(list)) throw new TypeError("forEach must give an array, not " + (list === null ? "null" : typeof list));
    if (list.length > ${MAX_FOREACH_ITEMS}) throw new RangeError("forEach gave " + list.length + " items; at most ${MAX_FOREACH_ITEMS} are allowed");
    const inputs = [];
    for (let index = 0; index < list.length; index++) {
      const item = list[index];
      inputs.push(s.input >= 0 ? await $x[s.input]({ ...context, item, index }) : item);
    }
    return { inputs };
  }
  return { inputs: [s.input >= 0 ? await $x[s.input](context) : { args: context.args, pipeline: context.pipeline }] };
};
`;
}

/** Whether step i needs the sandbox before its function runs (otherwise its input is `{args, pipeline}`). */
export const stepNeedsPlan = (spec: PipelineSpec, i: number): boolean => {
  const s = spec.steps[i];
  return s.if !== undefined || s.forEach !== undefined || s.input !== undefined;
};

export function compileExpressionModule(spec: PipelineSpec): { ok: true; script: string } | { ok: false; message: string } {
  const compiled = compileFunction(buildExpressionModule(spec));
  return compiled.ok ? { ok: true, script: compiled.script } : { ok: false, message: compiled.message };
}
