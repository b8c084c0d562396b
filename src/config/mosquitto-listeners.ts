// The listener side of reading a mosquitto.conf: what one `listener` block (or mosquitto's
// implicit default listener) becomes in Culex, and how mosquitto's security settings, which
// may be per listener there, fold into Culex's one set for the whole broker.
import { ConfigError } from './errors.js';
import { defaultListener, type ListenerConfig } from './schema.js';
import type { Where } from './validate.js';

export interface Setting<T> {
  readonly value: T;
  readonly where: Where;
}

export type SecurityKey = 'allow_anonymous' | 'password_file' | 'acl_file' | 'allow_zero_length_clientid' | 'auto_id_prefix';
export const SECURITY_KEYS: readonly SecurityKey[] = ['allow_anonymous', 'password_file', 'acl_file', 'allow_zero_length_clientid', 'auto_id_prefix'];
/** What mosquitto uses when a security key is not set (allow_anonymous outside local only mode). */
const SECURITY_DEFAULTS: Readonly<Record<SecurityKey, string | boolean>> = {
  allow_anonymous: false,
  password_file: '',
  acl_file: '',
  allow_zero_length_clientid: true,
  auto_id_prefix: 'auto-',
};

export type SecurityScope = Map<SecurityKey, Setting<string | boolean>>;

/** One `listener` block, or (explicit = false) the settings of mosquitto's default listener. */
export interface Block {
  readonly explicit: boolean;
  /** The `listener` line, or the first line that set up the default listener. */
  where: Where | undefined;
  port?: Setting<number>;
  address?: Setting<string>;
  protocol?: Setting<'mqtt' | 'websockets'>;
  certfile?: Setting<string>;
  keyfile?: Setting<string>;
  cafile?: Setting<string>;
  capath?: Setting<string>;
  require_certificate?: Setting<boolean>;
  use_identity_as_username?: Setting<boolean>;
  tls_version?: Setting<string>;
  max_connections?: Setting<number>;
  /** Set by keys that only a listener has (max_qos, max_topic_alias count too). */
  touched: boolean;
  readonly security: SecurityScope;
}

export function newBlock(explicit: boolean, where: Where | undefined): Block {
  return { explicit, where, touched: false, security: new Map() };
}

export function describeBlock(block: Block): string {
  if (!block.explicit) return 'the default listener';
  return `the listener at ${block.where?.file}:${block.where?.line}`;
}

type Warn = (where: Where, key: string, message: string) => void;

export interface ConvertedListener {
  readonly listener: ListenerConfig;
  /** Where each key path below the listener (`certfile`, ...) came from. */
  readonly lines: ReadonlyMap<string, Where>;
}

/** Turns a block into a Culex listener, refusing what mosquitto would run insecurely or not at all. */
export function blockToListener(block: Block, warn: Warn): ConvertedListener {
  const at = block.where ?? block.port?.where;
  const lines = new Map<string, Where>();
  const error = (where: Where | undefined, key: string, problem: string): ConfigError =>
    new ConfigError(where?.file ?? at?.file ?? 'mosquitto.conf', where?.line ?? at?.line, key, problem);
  const listener = defaultListener(block.port?.value ?? 1883);
  if (block.port) lines.set('port', block.port.where);
  if (block.address) {
    listener.bind_address = block.address.value;
    lines.set('bind_address', block.address.where);
  }
  if ((block.certfile === undefined) !== (block.keyfile === undefined)) {
    const [set, missing] = block.certfile !== undefined ? [block.certfile, 'keyfile'] : [block.keyfile!, 'certfile'];
    throw error(set.where, missing, `missing: TLS needs both certfile and keyfile (mosquitto would run ${describeBlock(block)} without TLS)`);
  }
  const tls = block.certfile !== undefined;
  const ws = block.protocol?.value === 'websockets';
  listener.type = ws ? (tls ? 'wss' : 'ws') : tls ? 'tls' : 'tcp';
  if (ws) {
    warn(block.protocol!.where, 'protocol', `mosquitto accepts WebSocket clients on any path; Culex only on ${listener.path}`);
  }
  if (block.max_connections) {
    listener.max_connections = block.max_connections.value <= 0 ? -1 : block.max_connections.value;
    lines.set('max_connections', block.max_connections.where);
  }
  const tlsOnly = ['cafile', 'capath', 'require_certificate', 'use_identity_as_username', 'tls_version'] as const;
  if (!tls) {
    for (const key of tlsOnly) {
      const setting = block[key];
      if (setting !== undefined) warn(setting.where, key, 'no effect: this listener has no certfile and keyfile, so no TLS');
    }
    return { listener, lines };
  }
  for (const key of ['certfile', 'keyfile', 'cafile'] as const) {
    const setting = block[key];
    if (setting === undefined) continue;
    listener[key] = setting.value;
    lines.set(key, setting.where);
  }
  if (block.require_certificate?.value === true) {
    if (block.cafile === undefined) {
      if (block.capath !== undefined) {
        throw error(block.capath.where, 'capath', 'not supported: put the CA certificates into one PEM file and name it with cafile');
      }
      throw error(block.require_certificate.where, 'require_certificate', 'needs cafile, the CA certificates client certificates are checked against');
    }
    listener.require_certificate = true;
    lines.set('require_certificate', block.require_certificate.where);
  }
  if (block.capath !== undefined && listener.require_certificate) {
    warn(block.capath.where, 'capath', 'not supported, dropped: client certificates are checked against cafile only');
  } else if (block.capath !== undefined) {
    warn(block.capath.where, 'capath', 'no effect: require_certificate is not true');
  }
  if (block.use_identity_as_username?.value === true) {
    if (!listener.require_certificate) {
      throw error(block.use_identity_as_username.where, 'use_identity_as_username', 'needs require_certificate true (without it mosquitto refuses every client)');
    }
    listener.use_identity_as_username = true;
    lines.set('use_identity_as_username', block.use_identity_as_username.where);
  }
  if (block.tls_version !== undefined) {
    const wanted = block.tls_version.value;
    if (wanted === 'tlsv1.1') warn(block.tls_version.where, 'tls_version', 'Culex accepts TLS 1.2 and later; using tlsv1.2');
    listener.tls_version = wanted === 'tlsv1.3' ? 'tlsv1.3' : 'tlsv1.2';
    lines.set('tls_version', block.tls_version.where);
  }
  return { listener, lines };
}

/**
 * With per_listener_settings true, each mosquitto listener has its own security settings.
 * Culex has one set for the whole broker, so they fold into one only when every listener
 * ends up with the same values; otherwise the file is refused with the first difference.
 */
export function foldSecurity(blocks: readonly Block[], perListener: Setting<boolean>): SecurityScope {
  const out: SecurityScope = new Map();
  const first = blocks[0];
  if (first === undefined) return out;
  for (const key of SECURITY_KEYS) {
    const valueIn = (b: Block): string | boolean => b.security.get(key)?.value ?? SECURITY_DEFAULTS[key];
    const other = blocks.find((b) => valueIn(b) !== valueIn(first));
    if (other !== undefined) {
      throw new ConfigError(
        perListener.where.file,
        perListener.where.line,
        'per_listener_settings',
        `Culex has one set of security settings for all listeners, but ${key} is ${JSON.stringify(valueIn(first))} for ${describeBlock(first)} and ${JSON.stringify(valueIn(other))} for ${describeBlock(other)}`,
      );
    }
    const set = blocks.map((b) => b.security.get(key)).find((s) => s !== undefined);
    if (set !== undefined) out.set(key, set);
  }
  return out;
}
