// The name rules moved to domain/names.ts, which both api/ and runtime/ import; this re-export keeps
// code written against the old path compiling.
export * from '../domain/names.ts';
