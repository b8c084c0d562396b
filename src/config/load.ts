// Reading and checking the YAML config file. Every problem names the file, the line and
// the key, so an operator can fix it without guessing.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { ConfigError } from './errors.js';
import { defaultConfig, type CulexConfig } from './schema.js';
import { validateConfig } from './validate.js';

export { ConfigError } from './errors.js';
export { checkValue } from './validate.js';

export interface ParseOptions {
  /** Relative paths in the file are resolved against this; default: the file's directory. */
  readonly baseDir?: string;
}

/**
 * Reads a YAML config file and returns only the keys it sets, checked. A key is present in
 * the result exactly when the file sets it (`Object.hasOwn(result, 'allow_anonymous')`), so
 * the caller can tell "set to the default" from "not set". Entries of `listeners` and
 * `topic_rules` come back complete, with their own defaults filled in.
 */
export function loadConfigFile(path: string): Partial<CulexConfig> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, undefined, undefined, `cannot read: ${(err as Error).message}`);
  }
  return parseConfigText(text, path);
}

export function parseConfigText(text: string, file: string, options: ParseOptions = {}): Partial<CulexConfig> {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first !== undefined) {
    const line = counter.linePos(first.pos[0]).line;
    throw new ConfigError(file, line, undefined, `not valid YAML: ${first.message.split('\n')[0]}`);
  }
  const lines = new Map<string, number>();
  if (doc.contents !== null) recordLines(doc.contents, '', lines, counter);
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(file, undefined, undefined, `not valid YAML: ${(err as Error).message}`);
  }
  return validateConfig(raw, {
    baseDir: options.baseDir ?? dirname(resolve(file)),
    locate: (path) => ({ file, line: lineOf(lines, path) }),
  });
}

/** Defaults, then the file, then explicit overrides (command-line flags). */
export function resolveConfig(file: Partial<CulexConfig>, overrides: Partial<CulexConfig>): CulexConfig {
  return { ...defaultConfig(), ...file, ...overrides };
}

/** Notes the line of every key and list item, by key path (`listeners[1].certfile`). */
function recordLines(node: Node, path: string, lines: Map<string, number>, counter: LineCounter): void {
  if (node.range && !lines.has(path)) lines.set(path, counter.linePos(node.range[0]).line);
  if (isMap(node)) {
    for (const pair of node.items) {
      const keyNode = pair.key;
      const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      const keyPath = path === '' ? key : `${path}.${key}`;
      if (isScalar(keyNode) && keyNode.range) lines.set(keyPath, counter.linePos(keyNode.range[0]).line);
      if (isMap(pair.value) || isSeq(pair.value)) recordLines(pair.value, keyPath, lines, counter);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      if (isMap(item) || isSeq(item) || isScalar(item)) recordLines(item, `${path}[${i}]`, lines, counter);
    });
  }
}

/** The line of a key path, or of the nearest enclosing key that has one. */
function lineOf(lines: Map<string, number>, path: string): number | undefined {
  for (let p = path; ; p = parent(p)) {
    const line = lines.get(p);
    if (line !== undefined) return line;
    if (p === '') return undefined;
  }
}

function parent(path: string): string {
  const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
  return cut <= 0 ? '' : path.slice(0, cut);
}
