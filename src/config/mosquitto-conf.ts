// Reads a mosquitto.conf (mosquitto 2.0's format and meaning, after src/conf.c) into the same
// Partial<CulexConfig> the YAML loader returns, plus warnings for the settings that have no
// effect in Culex. Settings Culex cannot honour without letting in clients mosquitto would keep
// out (plugins, TLS-PSK, CRLs, per-listener security that differs) are refused instead.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ConfigError, configWarning, type ConfigWarning } from './errors.js';
import { BRIDGE_KEYS, IGNORED, UNSUPPORTED, UNSUPPORTED_PREFIXES } from './mosquitto-keys.js';
import { blockToListener, describeBlock, foldSecurity, newBlock, type Block, type SecurityKey, type SecurityScope, type Setting } from './mosquitto-listeners.js';
import { listenerWithoutDefaults, type CulexConfig } from './schema.js';
import { validateConfig, type Where } from './validate.js';

export interface MosquittoConfResult {
  /** Only the keys the file decides, as from loadConfigFile. */
  readonly config: Partial<CulexConfig>;
  /** Settings read but dropped, and notes on changed meaning; each names file, line and key. */
  readonly warnings: readonly ConfigWarning[];
  /** The files read: the main one, then the include_dir files in the order read. */
  readonly files: readonly string[];
}

export interface MosquittoParseOptions {
  /** Relative paths are resolved against this; default: the file's directory. */
  readonly baseDir?: string;
}

const MAX_U32 = 4294967295;
const LOG_TYPES = ['none', 'information', 'notice', 'warning', 'error', 'debug', 'subscribe', 'unsubscribe', 'internal', 'websockets', 'all'];
const DURATION_UNITS: Readonly<Record<string, number>> = { h: 3600, d: 86400, w: 7 * 86400, m: 30 * 86400, y: 365 * 86400 };

export function readMosquittoConf(path: string): MosquittoConfResult {
  const reader = new MosquittoReader();
  reader.readFile(path, 0, undefined);
  return reader.result(path);
}

export function parseMosquittoConf(text: string, file: string, options: MosquittoParseOptions = {}): MosquittoConfResult {
  const reader = new MosquittoReader();
  reader.readText(text, file, options.baseDir ?? dirname(resolve(file)), 0);
  return reader.result(file);
}

interface Line {
  readonly key: string;
  readonly rest: string;
  readonly at: Where;
  readonly baseDir: string;
}

class MosquittoReader {
  readonly #warnings: ConfigWarning[] = [];
  readonly #files: string[] = [];
  readonly #default: Block = newBlock(false, undefined);
  readonly #listeners: Block[] = [];
  /** Culex keys set by global mosquitto keys. */
  readonly #global = new Map<string, Setting<unknown>>();
  readonly #security: SecurityScope = new Map();
  /** max_qos and max_topic_alias: per listener in mosquitto, one value in Culex. */
  readonly #perListenerLimits = new Map<'max_qos' | 'max_topic_alias', { setting: Setting<number>; block: Block }[]>();
  readonly #logTypes = new Set<string>();
  #logTypeAt: Where | undefined;
  #perListener: Setting<boolean> | undefined;
  #securitySeen = false;
  /** mosquitto 2: no listener, port or bind_address line means local only mode. */
  #localOnly = true;

  readFile(path: string, level: number, from: Line | undefined): void {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const problem = `cannot read ${path}: ${(err as Error).message}`;
      throw from !== undefined ? this.#error(from, problem) : new ConfigError(path, undefined, undefined, problem);
    }
    this.readText(text, path, dirname(resolve(path)), level);
  }

  readText(text: string, file: string, baseDir: string, level: number): void {
    this.#files.push(file);
    // As in mosquitto, every file starts with the default listener and outside any bridge.
    let current = this.#default;
    let inBridge = false;
    const lines = text.replace(/^\uFEFF/, '').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const trimmed = lines[i]!.replace(/\r$/, '').trim();
      if (trimmed === '' || trimmed.startsWith('#')) continue;
      const match = /^(\S+)(?:[ \t]+(.*))?$/.exec(trimmed)!;
      const line: Line = { key: match[1]!, rest: (match[2] ?? '').trim(), at: { file, line: i + 1 }, baseDir };
      const { key } = line;
      if (Object.hasOwn(UNSUPPORTED, key)) throw this.#error(line, UNSUPPORTED[key]!);
      if (UNSUPPORTED_PREFIXES.some((p) => key.startsWith(p))) throw this.#error(line, 'mosquitto plugins cannot be loaded by Culex');
      if (BRIDGE_KEYS.includes(key)) {
        if (!inBridge) throw this.#error(line, 'a bridge setting, but no bridge was started (connection NAME)');
        continue;
      }
      if (Object.hasOwn(IGNORED, key)) {
        this.#warn(line.at, key, `no effect: ${IGNORED[key]}`);
        continue;
      }
      if (key === 'connection') {
        inBridge = true;
        this.#warn(line.at, key, `bridge "${this.#token(line)}" dropped: Culex has no bridges (its settings up to the next connection are skipped)`);
        continue;
      }
      if (key === 'listener') {
        current = this.#listener(line);
        continue;
      }
      if (key === 'include_dir') {
        this.#includeDir(line, level);
        continue;
      }
      this.#setting(line, current);
    }
  }

  #listener(line: Line): Block {
    this.#localOnly = false;
    const words = line.rest.split(/[ \t]+/).filter((t) => t !== '');
    const comment = words.findIndex((w) => w.startsWith('#'));
    const [portText, address, ...extra] = comment === -1 ? words : words.slice(0, comment);
    if (portText === undefined) throw this.#error(line, 'needs a port');
    const port = this.#parseInt(line, portText);
    if (port === 0) throw this.#error(line, 'port 0 means a Unix socket in mosquitto; Unix sockets are not supported');
    if (port < 1 || port > 65535) throw this.#error(line, `port must be between 1 and 65535, got ${port}`);
    if (extra.length > 0) throw this.#error(line, `unexpected "${extra[0]}" after the bind address`);
    const block = newBlock(true, line.at);
    block.port = { value: port, where: line.at };
    if (address !== undefined) block.address = { value: address, where: line.at };
    this.#listeners.push(block);
    return block;
  }

  #includeDir(line: Line, level: number): void {
    if (level > 0) {
      this.#warn(line.at, line.key, 'ignored: mosquitto reads include_dir only from the main config file');
      return;
    }
    const dir = this.#path(line);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (err) {
      throw this.#error(line, `cannot read directory ${dir}: ${(err as Error).message}`);
    }
    const main = resolve(line.at.file);
    for (const name of names.filter((n) => n.length > 5 && n.endsWith('.conf')).sort(mosquittoOrder)) {
      const path = join(dir, name);
      if (resolve(path) === main) {
        this.#warn(line.at, line.key, `skipped ${path}: it is the main config file`);
        continue;
      }
      this.readFile(path, level + 1, line);
    }
  }

  /** Every other key: listener, security and global settings. */
  #setting(line: Line, block: Block): void {
    const { key } = line;
    switch (key) {
      case 'port': {
        this.#localOnly = false;
        const port = this.#int(line);
        if (port < 1 || port > 65535) throw this.#error(line, `must be between 1 and 65535, got ${port}`);
        if (this.#default.port !== undefined) this.#warn(line.at, key, `set again (first at line ${this.#default.port.where.line}); the last one counts`);
        this.#default.port = { value: port, where: line.at };
        this.#default.where ??= line.at;
        return;
      }
      case 'bind_address':
        this.#localOnly = false;
        this.#once(line, this.#default.address);
        this.#default.address = { value: this.#string(line), where: line.at };
        this.#default.where ??= line.at;
        return;
      case 'protocol': {
        const value = this.#token(line);
        if (value !== 'mqtt' && value !== 'websockets') throw this.#error(line, `must be mqtt or websockets, got "${value}"`);
        return this.#onListener(block, line, 'protocol', value);
      }
      case 'certfile':
      case 'keyfile':
      case 'cafile':
      case 'capath':
        this.#once(line, block[key]);
        return this.#onListener(block, line, key, this.#path(line));
      case 'require_certificate':
      case 'use_identity_as_username':
        return this.#onListener(block, line, key, this.#bool(line));
      case 'tls_version': {
        this.#once(line, block.tls_version);
        const value = this.#string(line);
        if (!['tlsv1.3', 'tlsv1.2', 'tlsv1.1'].includes(value)) throw this.#error(line, `must be tlsv1.3, tlsv1.2 or tlsv1.1, got "${value}"`);
        return this.#onListener(block, line, key, value);
      }
      case 'max_connections':
        return this.#onListener(block, line, key, this.#int(line));
      case 'max_qos':
      case 'maximum_qos':
        return this.#limit(line, block, 'max_qos', 2);
      case 'max_topic_alias':
        return this.#limit(line, block, 'max_topic_alias', 65535);
      case 'allow_anonymous':
      case 'allow_zero_length_clientid':
        return this.#securitySetting(line, block, key, this.#bool(line));
      case 'password_file':
      case 'acl_file':
        return this.#securitySetting(line, block, key, this.#path(line));
      case 'auto_id_prefix':
        return this.#securitySetting(line, block, key, this.#string(line));
      case 'per_listener_settings': {
        const value = this.#bool(line);
        if (value && this.#securitySeen) throw this.#error(line, 'must come before any security setting (as in mosquitto)');
        this.#perListener = { value, where: line.at };
        return;
      }
      default:
        return this.#globalSetting(line);
    }
  }

  #globalSetting(line: Line): void {
    const { key, at } = line;
    const set = (culexKey: string, value: unknown): void => void this.#global.set(culexKey, { value, where: at });
    switch (key) {
      case 'max_inflight_messages': {
        const n = this.#int(line);
        if (n > 65535) throw this.#error(line, `must be at most 65535, got ${n}`);
        return set(key, n < 0 || n === 65535 ? 0 : n);
      }
      case 'max_keepalive':
      case 'sys_interval':
        return set(key, this.#ranged(line, 0, 65535));
      case 'max_packet_size': {
        const n = this.#int(line);
        if (n < 20) throw this.#error(line, `must be at least 20, got ${n}`);
        if (n > 268435455) this.#warn(at, key, `larger than any MQTT packet; using 268435455`);
        return set(key, Math.min(n, 268435455));
      }
      case 'max_queued_messages': {
        const n = this.#int(line);
        if (n <= 0) this.#warn(at, key, 'Culex always has a limit; using 10000000 for "no maximum"');
        else if (n > 10000000) this.#warn(at, key, 'above Culex\'s largest; using 10000000');
        return set(key, n <= 0 ? 10000000 : Math.min(n, 10000000));
      }
      case 'persistent_client_expiration': {
        const value = this.#token(line);
        const m = /^(\d+)([hdwmy])$/.exec(value);
        if (m === null) throw this.#error(line, `must be a number and a unit h, d, w, m or y (e.g. 14d), got "${value}"`);
        const seconds = Number(m[1]) * DURATION_UNITS[m[2]!]!;
        if (seconds <= 0 || seconds > MAX_U32) throw this.#error(line, `must be between 1 second and ${MAX_U32} seconds, got "${value}"`);
        return set(key, seconds);
      }
      case 'retain_available':
        return set(key, this.#bool(line));
      case 'persistence_location':
        this.#once(line, this.#global.get(key));
        return set(key, this.#string(line));
      case 'persistence':
        this.#once(line, this.#global.get(key));
        return set(key, this.#bool(line) ? 'sqlite' : 'memory');
      case 'log_type': {
        const value = this.#token(line);
        if (!LOG_TYPES.includes(value)) throw this.#error(line, `must be one of ${LOG_TYPES.join(', ')}, got "${value}"`);
        if (value === 'none') this.#logTypes.clear();
        if (['subscribe', 'unsubscribe', 'internal', 'websockets'].includes(value)) this.#warn(at, key, `Culex has no separate ${value} log; log_level decides`);
        this.#logTypes.add(value);
        this.#logTypeAt = at;
        return;
      }
      default:
        throw this.#error(line, 'unknown mosquitto.conf option');
    }
  }

  #onListener(block: Block, line: Line, key: keyof Block & string, value: unknown): void {
    (block as unknown as Record<string, Setting<unknown>>)[key] = { value, where: line.at };
    block.touched = true;
    block.where ??= line.at;
  }

  #limit(line: Line, block: Block, key: 'max_qos' | 'max_topic_alias', max: number): void {
    const setting = { value: this.#ranged(line, 0, max), where: line.at };
    const list = this.#perListenerLimits.get(key) ?? [];
    list.push({ setting, block });
    this.#perListenerLimits.set(key, list);
    block.touched = true;
    block.where ??= line.at;
  }

  #securitySetting(line: Line, block: Block, key: SecurityKey, value: string | boolean): void {
    this.#securitySeen = true;
    const scope = this.#perListener?.value === true ? block.security : this.#security;
    if (typeof value === 'string') this.#once(line, scope.get(key));
    scope.set(key, { value, where: line.at });
    if (this.#perListener?.value === true && !block.explicit) block.where ??= line.at;
  }

  result(main: string): MosquittoConfResult {
    const out: Record<string, unknown> = {};
    const lines = new Map<string, Where>();
    const put = (key: string, setting: Setting<unknown>): void => {
      out[key] = setting.value;
      lines.set(key, setting.where);
    };
    const perListener = this.#perListener?.value === true ? this.#perListener : undefined;
    const dflt = this.#default;
    const defaultIsListener =
      dflt.port !== undefined || dflt.address !== undefined || dflt.touched ||
      (perListener !== undefined && (dflt.security.has('password_file') || dflt.security.get('allow_zero_length_clientid')?.value === false));
    const blocks = this.#localOnly ? [dflt] : [...(defaultIsListener ? [dflt] : []), ...this.#listeners];

    const security = perListener !== undefined ? foldSecurity(blocks, perListener) : this.#security;
    for (const [key, setting] of security) put(key, setting);
    for (const [key, setting] of this.#global) put(key, setting);
    this.#foldLimits(this.#localOnly ? [] : blocks, put);
    if (this.#logTypeAt !== undefined) put('log_level', { value: logLevel(this.#logTypes), where: this.#logTypeAt });
    // mosquitto has no HTTP server; the converted broker gets none either until asked for.
    out.http_port = -1;

    if (this.#localOnly) {
      if (dflt.touched) this.#warn(dflt.where!, 'listener', 'ignored by mosquitto: without a listener, port or bind_address it runs in local only mode');
      const forced = security.get('allow_anonymous')?.value === false ? ' (mosquitto ignores allow_anonymous false there)' : '';
      this.#warn({ file: main, line: undefined }, undefined, `no listener, port or bind_address: mosquitto runs in local only mode (127.0.0.1 and ::1, port 1883, anonymous clients allowed${forced}); Culex will listen on 127.0.0.1:1883 and allow anonymous clients`);
      Object.assign(out, { host: '127.0.0.1', port: 1883, allow_anonymous: true });
    } else {
      this.#putListeners(blocks, out, lines);
    }
    const config = validateConfig(out, {
      baseDir: dirname(resolve(main)),
      locate: (path) => lines.get(path) ?? lines.get(path.replace(/\.[a-z_]+$/, '')) ?? { file: main, line: undefined },
    });
    return { config, warnings: [...this.#warnings], files: [...this.#files] };
  }

  #putListeners(blocks: readonly Block[], out: Record<string, unknown>, lines: Map<string, Where>): void {
    const converted = blocks.map((b) => blockToListener(b, (where, key, message) => this.#warn(where, key, message)));
    const only = converted[0];
    if (converted.length === 1 && only !== undefined && only.listener.type === 'tcp' && only.listener.max_connections === -1) {
      // One plain listener: the top-level port and host say it best.
      out.port = only.listener.port;
      lines.set('port', only.lines.get('port') ?? blocks[0]!.where!);
      if (only.listener.bind_address !== '') {
        out.host = only.listener.bind_address;
        lines.set('host', only.lines.get('bind_address')!);
      }
      return;
    }
    out.listeners = converted.map((c) => listenerWithoutDefaults(c.listener));
    converted.forEach((c, i) => {
      const where = blocks[i]!.where;
      if (where !== undefined) lines.set(`listeners[${i}]`, where);
      for (const [key, at] of c.lines) lines.set(`listeners[${i}].${key}`, at);
    });
  }

  #foldLimits(blocks: readonly Block[], put: (key: string, setting: Setting<unknown>) => void): void {
    for (const [key, list] of this.#perListenerLimits) {
      const live = list.filter((entry) => blocks.includes(entry.block));
      const first = live[0];
      if (first === undefined) continue;
      const other = live.find((e) => e.setting.value !== first.setting.value);
      if (other !== undefined) {
        throw new ConfigError(other.setting.where.file, other.setting.where.line, key, `Culex has one ${key} for all listeners; ${describeBlock(first.block)} sets ${first.setting.value}, ${describeBlock(other.block)} sets ${other.setting.value}`);
      }
      if (blocks.some((b) => !live.some((e) => e.block === b))) {
        this.#warn(first.setting.where, key, 'applies to every listener in Culex, not only to this one');
      }
      put(key, first.setting);
    }
  }

  // Value parsing. Errors and warnings name the file, the line and the mosquitto key.

  #error(line: Line, problem: string): ConfigError {
    return new ConfigError(line.at.file, line.at.line, line.key, problem);
  }

  #warn(where: Where, key: string | undefined, message: string): void {
    this.#warnings.push(configWarning(where.file, where.line, key, message));
  }

  /** A single-word value; a trailing `# comment` is allowed, other words are not. */
  #token(line: Line): string {
    const [value, next] = line.rest.split(/[ \t]+/);
    if (value === undefined || value === '' || value.startsWith('#')) throw this.#error(line, 'needs a value');
    if (next !== undefined && !next.startsWith('#')) throw this.#error(line, `unexpected "${next}" after the value`);
    return value;
  }

  /** The rest of the line, as mosquitto reads strings (spaces included). */
  #string(line: Line): string {
    if (line.rest === '') throw this.#error(line, 'needs a value');
    if (/\s#/.test(line.rest)) this.#warn(line.at, line.key, `mosquitto reads the whole rest of the line as the value, "# ..." included: "${line.rest}"`);
    return line.rest;
  }

  #path(line: Line): string {
    const value = this.#string(line);
    if (isAbsolute(value)) return value;
    const resolved = resolve(line.baseDir, value);
    this.#warn(line.at, line.key, `relative path: mosquitto opens it from its working directory, Culex from the config file's directory (${resolved})`);
    return resolved;
  }

  #int(line: Line): number {
    return this.#parseInt(line, this.#token(line));
  }

  #parseInt(line: Line, text: string): number {
    if (!/^[+-]?\d{1,15}$/.test(text)) throw this.#error(line, `must be an integer, got "${text}"`);
    return Number(text);
  }

  #ranged(line: Line, min: number, max: number): number {
    const n = this.#int(line);
    if (n < min || n > max) throw this.#error(line, `must be between ${min} and ${max}, got ${n}`);
    return n;
  }

  #bool(line: Line): boolean {
    const value = this.#token(line);
    if (value === 'true' || value === '1') return true;
    if (value === 'false' || value === '0') return false;
    throw this.#error(line, `must be true or false, got "${value}"`);
  }

  /** mosquitto refuses a string setting given twice for the same scope. */
  #once(line: Line, previous: Setting<unknown> | undefined): void {
    if (previous !== undefined) throw this.#error(line, `set twice (first at ${previous.where.file}:${previous.where.line})`);
  }
}

/** mosquitto's log_type flags as one Culex log level: the most verbose wins. */
function logLevel(types: ReadonlySet<string>): string {
  if (types.has('debug') || types.has('all')) return 'debug';
  if (['information', 'notice', 'subscribe', 'unsubscribe', 'internal', 'websockets'].some((t) => types.has(t))) return 'info';
  if (types.has('warning')) return 'warn';
  if (types.has('error')) return 'error';
  return 'silent';
}

/** include_dir order (mosquitto's scmp_p): case-insensitive, upper case first on a tie. */
export function mosquittoOrder(a: string, b: string): number {
  const upper = (c: number): number => (c >= 97 && c <= 122 ? c - 32 : c);
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (upper(ca) !== upper(cb)) return upper(ca) - upper(cb);
    if (ca !== cb) return ca - cb;
  }
  return a.length - b.length;
}
