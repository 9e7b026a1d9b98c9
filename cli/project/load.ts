import type { Project } from './types.ts';
/** Parses and validates a coffer.toml; throws ProjectFileError with file, line, column and key. */
export async function loadProject(file: string): Promise<Project> {
  throw new Error(`not implemented yet: ${file}`);
}
