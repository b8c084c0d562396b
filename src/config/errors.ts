// What the config readers report: a ConfigError stops the broker; a ConfigWarning is a setting
// that was read but has no effect (mosquitto.conf keys Culex does not have). Both name the
// file, the line and the key, so an operator can fix the file without guessing.

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly file: string;
  readonly line: number | undefined;
  /** The key path, e.g. `listeners[1].certfile`. */
  readonly key: string | undefined;
  readonly problem: string;
  constructor(file: string, line: number | undefined, key: string | undefined, problem: string) {
    super(locate(file, line, key) + problem);
    this.name = 'ConfigError';
    this.file = file;
    this.line = line;
    this.key = key;
    this.problem = problem;
  }
}

export interface ConfigWarning {
  readonly file: string;
  readonly line: number | undefined;
  readonly key: string | undefined;
  readonly message: string;
  /** `file:line: key: message`, ready to print. */
  readonly text: string;
}

export function configWarning(file: string, line: number | undefined, key: string | undefined, message: string): ConfigWarning {
  return { file, line, key, message, text: locate(file, line, key) + message };
}

function locate(file: string, line: number | undefined, key: string | undefined): string {
  return `${file}${line !== undefined ? `:${line}` : ''}: ${key !== undefined ? `${key}: ` : ''}`;
}
