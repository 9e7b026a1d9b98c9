// What a pipeline is, as deployed: the request body's shape (zod, feeding OpenAPI) and the checks a
// PUT makes before anything is stored. SDL pieces are parsed with graphql-js, expressions with acorn;
// each refusal names the offending field (`types`, `args`, `returns`, `steps[1].input`, ...) with a
// line and column inside that field's own text.
import { z } from '@hono/zod-openapi';
import { parse as parseJs } from 'acorn';
import { GraphQLError, Kind, parse as parseGraphql, parseType, Source, type DefinitionNode, type InputValueDefinitionNode, type TypeNode } from 'graphql/index.js';
import { CofferError } from '../errors.ts';
import { RESOURCE_NAME, RESOURCE_NAME_RULE } from '../names.ts';
import { MAX_LIMITS, MIN_LIMITS } from '../../runtime/index.ts';

/** A pipeline's name is also its GraphQL field name, so it must be both a URL segment and a GraphQL name. */
export const PIPELINE_NAME = /^[a-z][A-Za-z0-9_]{0,62}$/;
export const PIPELINE_NAME_RULE = '1-63 characters: letters, digits and "_", starting with a lowercase letter (it is the GraphQL field name)';
const STEP_NAME = /^(?!__)[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export const MAX_STEPS = 20;
export const MAX_EXPRESSION_CHARS = 16 * 1024;
export const MAX_TYPES_CHARS = 64 * 1024;
export const DEFAULT_DEADLINE_MS = 30_000;
export const MAX_DEADLINE_MS = 60_000;
export const MIN_DEADLINE_MS = 100;

const Expression = (what: string) => z.string().min(1).max(MAX_EXPRESSION_CHARS)
  .openapi({ description: `A JavaScript expression over \`context = {args, pipeline, caller}\` (also bound as variables), evaluated in the sandbox: ${what}` });

export const StepSchema = z.strictObject({
  name: z.string().regex(STEP_NAME, 'a step name: letters, digits and "_", not starting with a digit or "__"')
    .openapi({ description: 'Unique in the pipeline; later steps read this step\'s output as `pipeline.<name>`' }),
  function: z.string().regex(RESOURCE_NAME, RESOURCE_NAME_RULE).openapi({ description: 'A function of the same workspace; its active version runs' }),
  input: Expression('the value the function receives (default `{args, pipeline}`; with forEach, also `item` and `index`, default `item`)').optional(),
  if: Expression('the step runs only if this is truthy; otherwise its output is null').optional(),
  forEach: Expression('an array; the function runs once per element and the step\'s output is the array of results').optional(),
  onError: z.enum(['fail', 'skip']).optional().openapi({ description: '`fail` (default) halts the field; `skip` records the failure and makes the output null' }),
  timeoutMs: z.number().int().min(MIN_LIMITS.timeoutMs).max(MAX_LIMITS.timeoutMs).optional()
    .openapi({ description: 'Per invocation of this step; default the function version\'s own timeout. Never past the run\'s deadline.' }),
}).openapi('PipelineStep');

export const PipelineBody = z.strictObject({
  operation: z.enum(['query', 'mutation']),
  types: z.string().max(MAX_TYPES_CHARS).optional().openapi({ description: 'GraphQL SDL: input, type, enum, scalar, interface and union definitions. Types are shared by the workspace; each may be declared by one pipeline only.' }),
  args: z.string().max(4096).optional().openapi({ description: 'The field\'s arguments in SDL, e.g. `id: ID!, input: OrderInput`' }),
  returns: z.string().min(1).max(1024).openapi({ description: 'The field\'s type in SDL, e.g. `OrderResult!`' }),
  steps: z.array(StepSchema).min(1).max(MAX_STEPS),
  result: Expression('the field\'s value (default: the last step\'s output)').optional(),
  description: z.string().max(1024).optional(),
  deadlineMs: z.number().int().min(MIN_DEADLINE_MS).max(MAX_DEADLINE_MS).optional()
    .openapi({ description: `The whole run's deadline, on top of per-step timeouts; default ${DEFAULT_DEADLINE_MS}` }),
  exposeSecrets: z.boolean().optional().openapi({ description: 'Return secret values read during the run in the field\'s value unredacted (logs and errors stay redacted)' }),
});

export type PipelineSpec = z.infer<typeof PipelineBody>;
export type StepSpec = z.infer<typeof StepSchema>;

/** The parsed SDL of one pipeline, ready to be merged into its workspace's schema. */
export interface ParsedPipeline {
  name: string;
  operation: 'query' | 'mutation';
  description?: string;
  definitions: DefinitionNode[];
  args: readonly InputValueDefinitionNode[];
  returns: TypeNode;
}

const ALLOWED_DEFINITIONS = new Set<string>([
  Kind.OBJECT_TYPE_DEFINITION, Kind.INPUT_OBJECT_TYPE_DEFINITION, Kind.ENUM_TYPE_DEFINITION,
  Kind.SCALAR_TYPE_DEFINITION, Kind.INTERFACE_TYPE_DEFINITION, Kind.UNION_TYPE_DEFINITION,
]);
const ROOT_NAMES = new Set(['Query', 'Mutation', 'Subscription']);
/** `args` is parsed inside this text; columns on its first line are shifted back by its length. */
const ARGS_PREFIX = 'type Q { f(';

export function schemaError(field: string, message: string, line?: number, column?: number): CofferError {
  const at = line !== undefined ? ` (line ${line}, column ${column})` : '';
  return new CofferError('invalid_schema', `${field}: ${message}${at}`, { details: { field, ...(line !== undefined ? { line, column } : {}) } });
}

/** Maps a graphql-js error on one of the pieces back to that piece's own line and column. */
export function fromGraphqlError(err: GraphQLError, fallbackField = 'types'): CofferError {
  const name = err.source?.name ?? '';
  const field = /(^|\.)(types|args|returns)$/.test(name) ? name : fallbackField;
  const loc = err.locations?.[0];
  if (!loc) return schemaError(field, err.message);
  const column = field.endsWith('args') && loc.line === 1 ? loc.column - ARGS_PREFIX.length : loc.column;
  return schemaError(field, err.message.replace(/^Syntax Error: /, ''), loc.line, column);
}

/**
 * `tag` prefixes the field names in errors: '' for the pipeline being deployed, `<name>.` for the
 * others it is checked against (so a clash names the other pipeline's piece).
 */
export function parsePipelineSdl(name: string, spec: PipelineSpec, tag = ''): ParsedPipeline {
  let definitions: DefinitionNode[] = [];
  try {
    if (spec.types?.trim()) definitions = [...parseGraphql(new Source(spec.types, `${tag}types`)).definitions];
  } catch (err) {
    throw err instanceof GraphQLError ? fromGraphqlError(err) : err;
  }
  for (const d of definitions) {
    const pos = d.loc ? lineColumn(spec.types!, d.loc.start) : undefined;
    if (!ALLOWED_DEFINITIONS.has(d.kind)) {
      throw schemaError(`${tag}types`, `only input, type, enum, scalar, interface and union definitions are allowed, not ${d.kind}`, pos?.line, pos?.column);
    }
    const typeName = (d as { name?: { value: string } }).name?.value ?? '';
    if (ROOT_NAMES.has(typeName)) throw schemaError(`${tag}types`, `"${typeName}" is built from the workspace's pipelines and cannot be declared`, pos?.line, pos?.column);
  }
  let args: readonly InputValueDefinitionNode[] = [];
  try {
    if (spec.args?.trim()) {
      const doc = parseGraphql(new Source(`${ARGS_PREFIX}${spec.args}\n): Int }`, `${tag}args`));
      const def = doc.definitions[0];
      if (doc.definitions.length !== 1 || def.kind !== Kind.OBJECT_TYPE_DEFINITION || def.fields?.length !== 1) throw schemaError(`${tag}args`, 'not a list of argument definitions');
      args = def.fields[0].arguments ?? [];
    }
  } catch (err) {
    throw err instanceof GraphQLError ? fromGraphqlError(err) : err;
  }
  let returns: TypeNode;
  try {
    returns = parseType(new Source(spec.returns, `${tag}returns`));
  } catch (err) {
    throw err instanceof GraphQLError ? fromGraphqlError(err) : err;
  }
  return { name, operation: spec.operation, description: spec.description, definitions, args, returns };
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/**
 * An expression must be exactly one JavaScript expression: it is parsed wrapped in parentheses as a
 * whole program, and anything that is not a single expression statement (a `)` closing early, a
 * second statement) is refused, so the expression cannot reach outside the wrapper it is evaluated in.
 */
export function checkExpression(field: string, source: string): void {
  let program;
  try {
    program = parseJs(`(${source}\n)`, { ecmaVersion: 'latest', sourceType: 'script', locations: true, allowAwaitOutsideFunction: true });
  } catch (err) {
    const loc = (err as { loc?: { line: number; column: number } }).loc;
    const message = String((err as Error).message).replace(/ \(\d+:\d+\)$/, '');
    throw expressionError(field, message, loc ? { line: loc.line, column: loc.line === 1 ? Math.max(1, loc.column) : loc.column + 1 } : undefined);
  }
  if (program.body.length !== 1 || program.body[0].type !== 'ExpressionStatement') {
    const second = program.body[1] ?? program.body[0];
    const at = second?.loc ? { line: second.loc.start.line, column: second.loc.start.line === 1 ? Math.max(1, second.loc.start.column) : second.loc.start.column + 1 } : undefined;
    throw expressionError(field, 'must be a single expression', at);
  }
}

function expressionError(field: string, message: string, at?: { line: number; column: number }): CofferError {
  const where = at ? ` (line ${at.line}, column ${at.column})` : '';
  return new CofferError('invalid_expression', `${field}: ${message}${where}`, { details: { field, ...(at ?? {}) } });
}

/** Everything about the steps that can be checked without the database. */
export function checkSteps(spec: PipelineSpec): void {
  const seen = new Set<string>();
  spec.steps.forEach((step, i) => {
    if (seen.has(step.name)) throw new CofferError('invalid_request', `steps[${i}].name: duplicate step name "${step.name}"`, { details: { field: `steps[${i}].name` } });
    seen.add(step.name);
    for (const key of ['if', 'forEach', 'input'] as const) {
      const expr = step[key];
      if (expr !== undefined) checkExpression(`steps[${i}].${key}`, expr);
    }
  });
  if (spec.result !== undefined) checkExpression('result', spec.result);
}
