// Turns a user's ES module into the "script form" that the sandbox runs.
//
// Why a script and not a module: compiling and releasing modules at a high rate in one process has
// killed the process in isolated-vm 6.2 (two isolates compiling and releasing modules at once), while one Script
// compiled once per version and run in a fresh context per invocation is stable and about twice as
// fast. The transform works on acorn's node ranges, never on regexes, and keeps every line of the
// user's code on the same line so that stack traces point at the user's source.
import { parse, type Node } from 'acorn';
import { SCRIPT_PREFIX } from './bridge.ts';

export type CompileResult =
  | { ok: true; script: string }
  | { ok: false; message: string; line: number; column: number };

/**
 * The binding the transformed module stores its default export in; the wrapper returns it.
 * `const $default=` is exactly as long as `export default `, so columns stay put; a suffix is added
 * only in the unlikely case the user's code already contains the name.
 */
function defaultBinding(code: string): string {
  let name = '$default';
  while (code.includes(name)) name += '_';
  return name;
}

const NO_MODULES = 'functions cannot load modules';

interface Loc { line: number; column: number }
type AnyNode = Node & { [key: string]: any; loc?: { start: Loc } };

class Refusal extends Error {
  line: number;
  column: number;
  constructor(message: string, node: AnyNode) {
    const start = node.loc?.start ?? { line: 1, column: 0 };
    super(`${message} (line ${start.line})`);
    this.line = start.line;
    this.column = start.column + 1;
  }
}

export function compileFunction(code: string): CompileResult {
  if (typeof code !== 'string') return { ok: false, message: 'code must be a string', line: 1, column: 1 };
  let program: AnyNode;
  try {
    program = parse(code, { ecmaVersion: 'latest', sourceType: 'module', locations: true }) as AnyNode;
  } catch (err: any) {
    const loc: Loc = err?.loc ?? { line: 1, column: 0 };
    const message = String(err?.message ?? 'syntax error').replace(/ \(\d+:\d+\)$/, '');
    return { ok: false, message: `SyntaxError: ${message}`, line: loc.line, column: loc.column + 1 };
  }
  try {
    refuseModuleLoading(program);
    const binding = defaultBinding(code);
    const script = `${SCRIPT_PREFIX}${transformBody(code, program, binding)}\n;return ${binding};})`;
    checkScriptShape(script);
    return { ok: true, script };
  } catch (err) {
    if (err instanceof Refusal) return { ok: false, message: err.message, line: err.line, column: err.column };
    throw err;
  }
}

/**
 * The module is parsed as a module but runs as a script, and the two grammars differ in one way
 * that matters: `<!--` and `-->` open comments in scripts only (Annex B). Re-parse the script and
 * require it to be exactly the wrapper function, so nothing can end the wrapper early and run
 * outside it.
 */
function checkScriptShape(script: string): void {
  let program: AnyNode;
  try {
    program = parse(script, { ecmaVersion: 'latest', sourceType: 'script' }) as AnyNode;
  } catch {
    program = { type: 'Invalid' } as AnyNode;
  }
  const statement = program.body?.[0];
  const fn = statement?.expression;
  const intact = program.body?.length === 1 && statement.type === 'ExpressionStatement' && fn?.type === 'FunctionExpression'
    && fn.async === true && fn.start === 1 && fn.end === script.length - 1;
  if (!intact) {
    const found = [script.indexOf('<!--'), script.indexOf('-->')].filter((i) => i >= 0);
    const at = found.length > 0 ? Math.min(...found) : 0;
    const before = script.slice(0, at).split('\n');
    const column = before.length === 1 ? Math.max(0, at - SCRIPT_PREFIX.length) : before[before.length - 1].length;
    throw new Refusal('HTML-like comments ("<!--", "-->") are not supported in functions', { loc: { start: { line: before.length, column } } } as AnyNode);
  }
}

/** Dynamic import() and import.meta can sit anywhere in the tree, so walk all of it. */
function refuseModuleLoading(node: AnyNode): void {
  const stack: AnyNode[] = [node];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n.type === 'ImportExpression') throw new Refusal(`dynamic import() is not supported: ${NO_MODULES}`, n);
    if (n.type === 'MetaProperty' && n.meta?.name === 'import') {
      throw new Refusal(`import.meta is not supported: ${NO_MODULES}`, n);
    }
    for (const key of Object.keys(n)) {
      if (key === 'loc') continue;
      const value = n[key];
      if (Array.isArray(value)) {
        for (let i = value.length - 1; i >= 0; i--) if (isNode(value[i])) stack.push(value[i]);
      } else if (isNode(value)) stack.push(value);
    }
  }
}

const isNode = (v: unknown): v is AnyNode => typeof v === 'object' && v !== null && typeof (v as any).type === 'string';

interface Edit { start: number; end: number; text: string }

function transformBody(code: string, program: AnyNode, binding: string): string {
  const edits: Edit[] = [];
  let defaults = 0;
  let returnsLocal: string | undefined;
  // Spaces keep columns; newlines are kept so that lines do not move.
  const blank = (start: number, end: number) =>
    edits.push({ start, end, text: code.slice(start, end).replace(/[^\n\r\u2028\u2029]/g, ' ') });

  if (code.startsWith('#!')) blank(0, code.search(/[\n\r\u2028\u2029]|$/));

  for (const stmt of program.body as AnyNode[]) {
    switch (stmt.type) {
      case 'ImportDeclaration':
        throw new Refusal(`import is not supported: ${NO_MODULES}`, stmt);
      case 'ExportAllDeclaration':
        throw new Refusal(`export * from is not supported: ${NO_MODULES}`, stmt);
      case 'ExportNamedDeclaration':
        if (stmt.source) throw new Refusal(`export ... from is not supported: ${NO_MODULES}`, stmt);
        if (stmt.declaration) {
          blank(stmt.start, stmt.declaration.start);
        } else {
          for (const spec of stmt.specifiers as AnyNode[]) {
            if (exportedName(spec.exported) === 'default') {
              defaults++;
              returnsLocal = spec.local.name;
            }
          }
          blank(stmt.start, stmt.end);
        }
        break;
      case 'ExportDefaultDeclaration': {
        defaults++;
        const decl = stmt.declaration as AnyNode;
        const isDeclaration = decl.type === 'FunctionDeclaration' || decl.type === 'ClassDeclaration';
        if (isDeclaration && decl.id) {
          // `export default function name() {}` stays a hoisted declaration; the wrapper returns `name`.
          blank(stmt.start, decl.start);
          returnsLocal = decl.id.name;
        } else {
          edits.push({ start: stmt.start, end: decl.start, text: `const ${binding}=`.padEnd(decl.start - stmt.start) });
          // A declaration has no trailing semicolon; the expression that replaces it needs one.
          if (isDeclaration) edits.push({ start: decl.end, end: decl.end, text: ';' });
        }
        break;
      }
    }
  }
  if (defaults !== 1) {
    throw new Refusal('a function must have exactly one default export (export default async (args) => { ... })', program);
  }
  if (returnsLocal !== undefined) edits.push({ start: code.length, end: code.length, text: `\n;const ${binding} = ${returnsLocal};` });

  edits.sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const e of edits) {
    out += code.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + code.slice(at);
}

function exportedName(node: AnyNode): string {
  return node.type === 'Identifier' ? node.name : String(node.value);
}
