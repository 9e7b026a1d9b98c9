// A coffer.toml refused before anything is sent: where (file, line, column) and which key.
import { CliError, EXIT } from '../errors.ts';

export class ProjectFileError extends CliError {
  override name = 'ProjectFileError';
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** e.g. `vaults.payments.secrets.stripe-key.value.version`; empty for syntax errors. */
  readonly keyPath: string;
  constructor(file: string, line: number, column: number, keyPath: string, problem: string, options?: ErrorOptions) {
    super('invalid_project', `${line > 0 ? `${file}:${line}:${column}` : file}: ${keyPath ? `${keyPath}: ` : ''}${problem}`, EXIT.usage, { file, line, column, key: keyPath }, options);
    this.file = file;
    this.line = line;
    this.column = column;
    this.keyPath = keyPath;
  }
}
