import { describe, expect, it } from 'vitest';
import { compileFunction } from '../../runtime/index.ts';
import { REFERENCE } from './fixtures.ts';


/** Evaluates a compiled script in this process with plain JS (no isolate) to check its shape. */
async function defaultExport(code: string): Promise<unknown> {
  const c = compileFunction(code);
  if (!c.ok) throw new Error(c.message);
  // eslint-disable-next-line no-eval
  const factory = (0, eval)(c.script) as () => Promise<unknown>;
  return factory();
}

describe('compileFunction', () => {
  it('compiles the reference example', () => {
    const c = compileFunction(REFERENCE);
    expect(c.ok).toBe(true);
  });

  it('keeps the user code on its original lines', () => {
    const c = compileFunction('const a = 1;\nexport default () => a;\n');
    if (!c.ok) throw new Error('compile failed');
    expect(c.script.split('\n')[1]).toContain('() => a');
    expect(c.script.split('\n')[0]).toContain('const a = 1;');
  });

  it('reports a syntax error with 1-based line and column in the original source', () => {
    const c = compileFunction('export default async () => {\n  let x = ;\n};');
    expect(c).toMatchObject({ ok: false, line: 2, column: 11 });
    if (!c.ok) expect(c.message).toMatch(/Unexpected token/);
  });

  it.each([
    ['import x from "fs";\nexport default () => x;', /import is not supported/, 1],
    ['export default async () => {\n\n  return import("fs");\n};', /dynamic import\(\) is not supported/, 3],
    ['export default () => import.meta.url;', /import\.meta is not supported/, 1],
    ['export * from "fs";\nexport default 1;', /export \* from is not supported/, 1],
    ['export { readFile } from "fs";\nexport default 1;', /export \.\.\. from is not supported/, 1],
  ])('refuses module loading: %s', (code, message, line) => {
    const c = compileFunction(code);
    expect(c.ok).toBe(false);
    if (!c.ok) {
      expect(c.message).toMatch(message);
      expect(c.message).toContain('functions cannot load modules');
      expect(c.line).toBe(line);
    }
  });

  it('requires a default export', () => {
    const c = compileFunction('export const a = 1;');
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.message).toMatch(/exactly one default export/);
  });

  it('accepts the forms of default export', async () => {
    expect(await defaultExport('export default function handler() { return 1; }')).toBeTypeOf('function');
    expect(await defaultExport('export default function () { return 1; }\n(1)')).toBeTypeOf('function');
    expect(await defaultExport('export default class Foo {}')).toBeTypeOf('function');
    expect(await defaultExport('export default async () => 1')).toBeTypeOf('function');
    expect(await defaultExport('export default (x) => x')).toBeTypeOf('function');
    expect(await defaultExport('function f() {}\nexport { f as default };')).toBeTypeOf('function');
    expect(await defaultExport('export default 42;')).toBe(42);
  });

  it('keeps named exports as plain bindings', async () => {
    const fn = (await defaultExport('export const greeting = "hi";\nexport function twice(x) { return x * 2; }\nexport default () => greeting + twice(2);')) as () => string;
    expect(fn()).toBe('hi4');
  });

  it('supports top-level await', async () => {
    const fn = (await defaultExport('const v = await Promise.resolve(7);\nexport default () => v;')) as () => number;
    expect(fn()).toBe(7);
  });

  it('survives a trailing line comment and a hashbang', async () => {
    expect(await defaultExport('#!/usr/bin/env node\nexport default 3 // end')).toBe(3);
  });

  it('runs the module in strict mode', async () => {
    const fn = (await defaultExport('export default () => { return this; }')) as () => unknown;
    expect(fn()).toBeUndefined();
  });
});

describe('module and script grammars agree', () => {
  it('refuses code that an HTML-like comment would let out of the wrapper', () => {
    const code = 'let a = 1, b = 2;\na <!--b + `\n}); globalThis.escaped = 1; (async function(){\n`;\nexport default () => 1;\n';
    const r = compileFunction(code);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.message).toMatch(/HTML-like comments/);
      expect(r.line).toBe(2);
    }
  });

  it('still accepts ordinary comparisons and decrements', () => {
    const r = compileFunction('let a = 3, b = 2;\nexport default () => a > b && a-- > 0 && b < !a;\n');
    expect(r.ok).toBe(true);
  });
});
