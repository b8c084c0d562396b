// Shared by the config suites: fixture paths, and one assertion for "this input fails with a
// ConfigError that names this file, this line and this key".
import assert from 'node:assert/strict';
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../src/config/errors.js';

/** test/config/fixtures/ in the source tree (this file runs from dist/test/config/). */
export const FIXTURES = fileURLToPath(new URL('../../../test/config/fixtures/', import.meta.url));
export const DOCS = fileURLToPath(new URL('../../../docs/', import.meta.url));

export interface Expected {
  readonly file: string;
  readonly line: number | undefined;
  readonly key: string | undefined;
  /** Matched against the problem (the message after `file:line: key: `). */
  readonly problem?: RegExp;
}

export function assertConfigError(run: () => unknown, expected: Expected): ConfigError {
  let caught: unknown;
  try {
    run();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${caught instanceof Error ? caught.stack : String(caught)}`);
  assert.equal(caught.code, 'CONFIG_INVALID');
  assert.deepEqual({ file: caught.file, line: caught.line, key: caught.key }, { file: expected.file, line: expected.line, key: expected.key }, caught.message);
  const prefix = `${expected.file}${expected.line !== undefined ? `:${expected.line}` : ''}: ${expected.key !== undefined ? `${expected.key}: ` : ''}`;
  assert.ok(caught.message.startsWith(prefix), `message "${caught.message}" should start with "${prefix}"`);
  if (expected.problem !== undefined) assert.match(caught.problem, expected.problem);
  return caught;
}

/** Fails (never skips) when a file from a Debian package is missing, saying how to get it. */
export function requireFile(path: string, howToGet: string): string {
  try {
    accessSync(path, constants.R_OK);
  } catch {
    assert.fail(`${path} not found: ${howToGet}`);
  }
  return path;
}
