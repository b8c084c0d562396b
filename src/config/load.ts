// Reading and checking the YAML config file. Every problem names the file, the line and
// the key, so an operator can fix it without guessing.
import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, parseDocument, type Pair } from 'yaml';
import { CONFIG_KEYS, defaultConfig, type ConfigKey, type CulexConfig, type KeySpec } from './schema.js';

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly file: string;
  readonly line: number | undefined;
  readonly key: string | undefined;
  constructor(file: string, line: number | undefined, key: string | undefined, problem: string) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${key !== undefined ? `${key}: ` : ''}${problem}`);
    this.name = 'ConfigError';
    this.file = file;
    this.line = line;
    this.key = key;
  }
}

/** Reads a YAML config file and returns only the keys it sets, checked. */
export function loadConfigFile(path: string): Partial<CulexConfig> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, undefined, undefined, `cannot read: ${(err as Error).message}`);
  }
  return parseConfigText(text, path);
}

export function parseConfigText(text: string, file: string): Partial<CulexConfig> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first !== undefined) {
    const line = lines.linePos(first.pos[0]).line;
    throw new ConfigError(file, line, undefined, `not valid YAML: ${first.message.split('\n')[0]}`);
  }
  const out: Record<string, unknown> = {};
  if (doc.contents === null) return out as Partial<CulexConfig>;
  if (!isMap(doc.contents)) throw new ConfigError(file, 1, undefined, 'the file must be a mapping of key: value');
  for (const pair of doc.contents.items as Pair[]) {
    const keyNode = pair.key;
    const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
    const line = isScalar(keyNode) && keyNode.range ? lines.linePos(keyNode.range[0]).line : undefined;
    if (!Object.hasOwn(CONFIG_KEYS, key)) throw new ConfigError(file, line, key, 'unknown key');
    const valueNode = pair.value;
    const value = isScalar(valueNode) ? valueNode.value : valueNode === null ? null : (valueNode as { toJSON(): unknown }).toJSON();
    out[key] = checkValue(CONFIG_KEYS[key as ConfigKey], value, (problem) => new ConfigError(file, line, key, problem));
  }
  return out as Partial<CulexConfig>;
}

/** Checks one value against its spec; `fail` builds the error to throw. */
export function checkValue(spec: KeySpec, value: unknown, fail: (problem: string) => Error): number | boolean | string {
  switch (spec.type) {
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw fail(`must be an integer, got ${JSON.stringify(value)}`);
      if (value < spec.min || value > spec.max) throw fail(`must be between ${spec.min} and ${spec.max}, got ${value}`);
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw fail(`must be true or false, got ${JSON.stringify(value)}`);
      return value;
    case 'string':
      if (typeof value !== 'string') throw fail(`must be a string, got ${JSON.stringify(value)}`);
      if (spec.oneOf !== undefined && !spec.oneOf.includes(value)) throw fail(`must be one of ${spec.oneOf.join(', ')}, got "${value}"`);
      return value;
  }
}

/** Defaults, then the file, then explicit overrides (command-line flags). */
export function resolveConfig(file: Partial<CulexConfig>, overrides: Partial<CulexConfig>): CulexConfig {
  return { ...defaultConfig(), ...file, ...overrides };
}
