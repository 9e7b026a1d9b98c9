// Allow-lists for every user-chosen name, shared by api/ and runtime/ (the runtime imports nothing
// from api/). Names end up in URLs, audit rows, log lines and error messages, so they exclude anything that could confuse those readers: NUL, control and
// bidi characters, path separators, `..`, whitespace.

/** Vaults, workspaces, functions, service accounts: 1-63 chars, lowercase, digits, `-`, `_`. */
export const RESOURCE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const RESOURCE_NAME_RULE =
  '1-63 characters: lowercase letters, digits, "-" and "_", starting with a letter or digit';

/** Secret names: 1-128 chars, letters, digits, `.`, `-`, `_`, starting alphanumeric, no `..`. */
export const SECRET_NAME = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const SECRET_NAME_RULE =
  '1-128 characters: letters, digits, ".", "-" and "_", starting with a letter or digit, no ".."';

export const isResourceName = (s: unknown): s is string => typeof s === 'string' && RESOURCE_NAME.test(s);
export const isSecretName = (s: unknown): s is string => typeof s === 'string' && SECRET_NAME.test(s);
