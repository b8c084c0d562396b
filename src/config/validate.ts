// Checks a config value (already parsed from YAML, or assembled from a mosquitto.conf) against
// the schema in schema.ts. Knows nothing about file formats: the caller says where each key
// path was written, so every error can name the file, the line and the key.
import { resolve } from 'node:path';
import { ConfigError } from './errors.js';
import { findPortConflicts, type PortConflict } from './effective.js';
import { CONFIG_SPEC, defaultConfig, type CulexConfig } from './schema.js';
import { isScalarSpec, type FieldSpec, type KeySpec, type ObjectSpec, type Primitive, type Rule } from './spec.js';

export interface Where {
  readonly file: string;
  readonly line: number | undefined;
}

export interface ConfigSource {
  /** Where the value at a key path (`listeners[1].certfile`; '' = the whole file) was written. */
  locate(path: string): Where;
  /** Relative file paths (password_file, certfile, ...) are resolved against this directory. */
  readonly baseDir: string;
}

type Json = Record<string, unknown>;

/** Checks a whole config file's content and returns only the keys it sets (listeners with defaults filled in). */
export function validateConfig(raw: unknown, source: ConfigSource): Partial<CulexConfig> {
  if (raw === null || raw === undefined) return {};
  const fail = failer(source);
  if (!isObject(raw)) throw fail('', undefined, 'the file must be a mapping of key: value');
  const out = checkObject(CONFIG_SPEC, raw, '', source, false) as Partial<CulexConfig>;
  checkAcrossKeys(out, source);
  return out;
}

/** Checks one scalar value against its spec; `fail` builds the error to throw. */
export function checkValue(spec: KeySpec, value: unknown, fail: (problem: string) => Error): number | boolean | string {
  switch (spec.type) {
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw fail(`must be an integer, got ${show(value)}`);
      if (value < spec.min || value > spec.max) throw fail(`must be between ${spec.min} and ${spec.max}, got ${value}`);
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw fail(`must be true or false, got ${show(value)}`);
      return value;
    case 'string':
      if (typeof value !== 'string') throw fail(`must be a string, got ${show(value)}`);
      if (spec.oneOf !== undefined && !spec.oneOf.includes(value)) throw fail(`must be one of ${spec.oneOf.join(', ')}, got "${value}"`);
      if (spec.minLength !== undefined && value.length < spec.minLength) throw fail(value === '' ? 'must not be empty' : `must be at least ${spec.minLength} characters long`);
      if (spec.pattern !== undefined && !new RegExp(spec.pattern.regex, 'u').test(value)) throw fail(`${spec.pattern.means}, got "${value}"`);
      return value;
  }
}

function failer(source: ConfigSource) {
  return (path: string, fallback: string | undefined, problem: string): ConfigError => {
    let where = source.locate(path);
    if (where.line === undefined && fallback !== undefined) where = source.locate(fallback);
    return new ConfigError(where.file, where.line, path === '' ? undefined : path, problem);
  };
}

function checkField(spec: FieldSpec, value: unknown, path: string, source: ConfigSource): unknown {
  const fail = failer(source);
  if (isScalarSpec(spec)) {
    const checked = checkValue(spec, value, (problem) => fail(path, undefined, problem));
    return spec.type === 'string' && spec.path === true && checked !== '' ? resolve(source.baseDir, checked as string) : checked;
  }
  if (spec.type === 'list') {
    if (!Array.isArray(value)) throw fail(path, undefined, `must be a list, got ${show(value)}`);
    if (spec.minItems !== undefined && value.length < spec.minItems) throw fail(path, undefined, `must have at least ${spec.minItems} ${spec.minItems === 1 ? 'entry' : 'entries'}, got ${value.length}`);
    return value.map((item, i) => {
      const itemPath = `${path}[${i}]`;
      if (!isObject(item)) throw fail(itemPath, path, `must be a mapping of key: value, got ${show(item)}`);
      return checkObject(spec.items, item, itemPath, source, true);
    });
  }
  if (!isObject(value)) throw fail(path, undefined, `must be a mapping of key: value, got ${show(value)}`);
  return checkObject(spec, value, path, source, true);
}

/** Checks the keys of one mapping; `fill` adds the defaults of keys it does not set. */
function checkObject(spec: ObjectSpec, raw: Json, path: string, source: ConfigSource, fill: boolean): Json {
  const fail = failer(source);
  const join = (key: string): string => (path === '' ? key : `${path}.${key}`);
  const out: Json = {};
  for (const [key, value] of Object.entries(raw)) {
    const field = Object.hasOwn(spec.fields, key) ? spec.fields[key] : undefined;
    if (field === undefined) throw fail(join(key), path, 'unknown key');
    out[key] = checkField(field, value, join(key), source);
  }
  for (const key of spec.required ?? []) {
    if (!Object.hasOwn(raw, key)) throw fail(join(key), path, 'required');
  }
  for (const rule of spec.rules ?? []) checkRule(spec, rule, out, path, source);
  if (!fill) return out;
  const filled: Json = {};
  for (const [key, field] of Object.entries(spec.fields)) {
    if (Object.hasOwn(out, key)) filled[key] = out[key];
    else if (isScalarSpec(field) && field.default !== undefined) filled[key] = field.default;
  }
  return filled;
}

function checkRule(spec: ObjectSpec, rule: Rule, obj: Json, path: string, source: ConfigSource): void {
  const fail = failer(source);
  const join = (key: string): string => (path === '' ? key : `${path}.${key}`);
  const set = Object.hasOwn(obj, rule.key);
  const actual = set ? obj[rule.key] : defaultOf(spec, rule.key);
  const holds = rule.present === true ? set : (rule.in ?? []).includes(actual as Primitive);
  const action = holds ? rule.then : rule.else;
  if (action === undefined) return;
  const hint = rule.hint !== undefined ? `; ${rule.hint}` : '';
  const when = describeCondition(rule, holds, actual);
  for (const key of action.require ?? []) {
    if (!Object.hasOwn(obj, key)) throw fail(join(key), path, `required ${when}${hint}`);
    if (obj[key] === '') throw fail(join(key), path, `must not be empty ${when}${hint}`);
  }
  for (const key of action.requireTrue ?? []) {
    if (obj[key] !== true) throw fail(join(key), path, `must be true ${when}${hint}`);
  }
  for (const key of action.forbid ?? []) {
    if (Object.hasOwn(obj, key)) throw fail(join(key), path, `${holds ? 'not allowed' : 'only'} ${when}${hint}`);
  }
}

/** "for type tls", "when require_certificate is true", "when listeners is set", "for type tls or wss, not tcp". */
export function describeCondition(rule: Rule, holds: boolean, actual: unknown): string {
  if (rule.present === true) return `when ${rule.key} is set`;
  const lead = rule.key === 'type' ? 'for type' : `when ${rule.key} is`;
  if (holds) return `${lead} ${String(actual)}`;
  return `${lead} ${(rule.in ?? []).map(String).join(' or ')}, not ${String(actual)}`;
}

function defaultOf(spec: ObjectSpec, key: string): unknown {
  const field = spec.fields[key];
  return field !== undefined && isScalarSpec(field) ? field.default : undefined;
}

/** Checks that need several keys (with the defaults of the keys the file leaves out). */
function checkAcrossKeys(file: Partial<CulexConfig>, source: ConfigSource): void {
  const fail = failer(source);
  const config: CulexConfig = { ...defaultConfig(), ...file };
  if (config.auth_failure_delay > 0 && config.auth_failure_delay_max < config.auth_failure_delay) {
    if (Object.hasOwn(file, 'auth_failure_delay_max')) {
      throw fail('auth_failure_delay_max', undefined, `must not be below auth_failure_delay (${config.auth_failure_delay}), got ${config.auth_failure_delay_max}`);
    }
    throw fail('auth_failure_delay', undefined, `must not be above auth_failure_delay_max (${config.auth_failure_delay_max}), got ${config.auth_failure_delay}; raise auth_failure_delay_max too`);
  }
  const conflict = findPortConflicts(config)[0];
  if (conflict !== undefined) throw conflictError(conflict, file, source);
}

function conflictError(conflict: PortConflict, file: Partial<CulexConfig>, source: ConfigSource): ConfigError {
  const fail = failer(source);
  const { first, second } = conflict;
  const on = `${second.port} on ${second.address}`;
  if (second.path === 'http_port' && !Object.hasOwn(file, 'http_port')) {
    return fail(first.path, 'listeners', `${on} is also the HTTP server's port (http_port defaults to ${second.port}); set http_port to another port, or -1 for no HTTP server`);
  }
  const owner = first.path === 'port' ? 'the MQTT listener (port)' : first.path === 'http_port' ? 'the HTTP server (http_port)' : `${first.path.replace(/\.port$/, '')} (${first.address}:${first.port})`;
  return fail(second.path, 'listeners', `${on} is already taken by ${owner}`);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
