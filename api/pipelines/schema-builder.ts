// One GraphQL schema per workspace, built with graphql-js from the SDL its pipelines declared: their
// types, one field per pipeline on Query or Mutation, and a resolver on each such field that runs
// the pipeline. The same build is the check at PUT (unknown types, a type declared twice, a bad
// schema), so what deploys always builds.
import {
  buildASTSchema, GraphQLError, Kind, validateSchema,
  type DefinitionNode, type DocumentNode, type FieldDefinitionNode, type GraphQLFieldResolver, type GraphQLSchema, type ObjectTypeDefinitionNode,
} from 'graphql/index.js';
import { validateSDL } from 'graphql/validation/validate.js';
import { fromGraphqlError, type ParsedPipeline } from './spec.ts';

/** The Query type must exist even in a workspace without query pipelines. */
const EMPTY_QUERY_FIELD = '_empty';

function rootType(name: 'Query' | 'Mutation', pipelines: ParsedPipeline[]): ObjectTypeDefinitionNode {
  const fields: FieldDefinitionNode[] = pipelines.map((p) => ({
    kind: Kind.FIELD_DEFINITION,
    name: { kind: Kind.NAME, value: p.name },
    arguments: p.args,
    type: p.returns,
    ...(p.description ? { description: { kind: Kind.STRING, value: p.description } } : {}),
  }));
  if (fields.length === 0) {
    fields.push({
      kind: Kind.FIELD_DEFINITION, name: { kind: Kind.NAME, value: EMPTY_QUERY_FIELD }, type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: 'Boolean' } },
      description: { kind: Kind.STRING, value: 'This workspace has no query pipelines yet.' },
    });
  }
  return { kind: Kind.OBJECT_TYPE_DEFINITION, name: { kind: Kind.NAME, value: name }, fields };
}

/**
 * Builds the schema, or throws a CofferError (invalid_schema) located in the piece of SDL at fault.
 * `resolverFor` gives each pipeline field its resolver; without it the schema is only checked.
 */
export function buildWorkspaceSchema(pipelines: ParsedPipeline[], // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each caller brings its own context type
  resolverFor?: (p: ParsedPipeline) => GraphQLFieldResolver<unknown, any>): GraphQLSchema {
  const queries = pipelines.filter((p) => p.operation === 'query');
  const mutations = pipelines.filter((p) => p.operation === 'mutation');
  const definitions: DefinitionNode[] = pipelines.flatMap((p) => p.definitions);
  definitions.push(rootType('Query', queries));
  if (mutations.length > 0) definitions.push(rootType('Mutation', mutations));
  const doc: DocumentNode = { kind: Kind.DOCUMENT, definitions };

  const sdlErrors = validateSDL(doc);
  if (sdlErrors.length > 0) throw fromGraphqlError(sdlErrors[0]);
  let schema: GraphQLSchema;
  try {
    schema = buildASTSchema(doc, { assumeValidSDL: true });
  } catch (err) {
    throw err instanceof GraphQLError ? fromGraphqlError(err) : fromGraphqlError(new GraphQLError(String((err as Error).message)));
  }
  const schemaErrors = validateSchema(schema);
  if (schemaErrors.length > 0) throw fromGraphqlError(schemaErrors[0]);

  if (resolverFor) {
    const byName = new Map(pipelines.map((p) => [p.name, p]));
    for (const root of [schema.getQueryType(), schema.getMutationType()]) {
      for (const field of Object.values(root?.getFields() ?? {})) {
        const p = byName.get(field.name);
        if (p) field.resolve = resolverFor(p);
      }
    }
  }
  return schema;
}
