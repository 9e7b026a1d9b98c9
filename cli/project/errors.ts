// A coffer.toml refused before anything is sent: where (file, line, column) and which key.
export class ProjectFileError extends Error {
  override name = 'ProjectFileError';
  readonly code = 'invalid_project';
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** e.g. `vaults.payments.secrets.stripe-key.value.version`; empty for syntax errors. */
  readonly keyPath: string;
  constructor(file: string, line: number, column: number, keyPath: string, problem: string, options?: ErrorOptions) {
    super(`${file}:${line}:${column}: ${keyPath ? `${keyPath}: ` : ''}${problem}`, options);
    this.file = file;
    this.line = line;
    this.column = column;
    this.keyPath = keyPath;
  }
}
