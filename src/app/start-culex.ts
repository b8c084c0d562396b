// The composition root for a configured broker: turns a resolved CulexConfig into running
// parts (security adapters, the broker, its listeners, the HTTP server with MQTT over
// WebSocket at /mqtt) and gives the CLI one handle to reload and stop them all.
import type { AddressInfo } from 'node:net';
import { LoginBackoff } from '../adapters/auth/login-backoff.js';
import { PasswordFile } from '../adapters/auth/password-file.js';
import { StandardAuthenticator } from '../adapters/auth/standard-authenticator.js';
import { AclFile } from '../adapters/authz/acl-file.js';
import { CombinedAuthorizer } from '../adapters/authz/combined-authorizer.js';
import { TopicRules } from '../adapters/authz/topic-rules.js';
import { openDatabase } from '../adapters/sqlite/database.js';
import { SystemClock } from '../adapters/system/system-clock.js';
import { TokenStore } from '../adapters/tokens/token-store.js';
import { SqliteDurableStore } from '../adapters/sqlite/durable-store.js';
import type { RedisClusterLink } from '../adapters/redis/cluster-link.js';
import type { Redis } from 'ioredis';
import { TeeStore } from '../adapters/shared/tee-store.js';
import { hostname } from 'node:os';
import { listenerName, resolveHttpBindAddress, resolveListeners } from '../config/effective.js';
import type { CulexConfig, ListenerConfig } from '../config/schema.js';
import type { Authenticator, Authorizer, DurableStore, Logger } from '../core/ports.js';
import { createHttpServer, type RunningHttpServer } from '../http/server.js';
import { SharedConnectionLimit } from '../transports/admission.js';
import type { ListenerOptions, RunningListener } from '../transports/listeners.js';
import { attachWebSocket } from '../transports/ws.js';
import { createBroker, type CulexBroker } from './create-broker.js';
import { settingsFromConfig } from './settings-from-config.js';

export interface StartedListener {
  readonly name: string;
  readonly type: string;
  readonly address: AddressInfo;
}

export interface RunningCulex {
  readonly broker: CulexBroker;
  readonly listeners: readonly StartedListener[];
  /** The HTTP server's address, when http_port is not -1. */
  readonly http: AddressInfo | undefined;
  /** SIGHUP: re-reads the password file, the ACL file and the TLS certificates. Failures are logged; the old ones stay. */
  reload(): Promise<void>;
  close(): Promise<void>;
}

/** A listener's name in logs and ConnectionMeta; port 0 gets its position so names stay unique. */
function nameOf(listener: ListenerConfig, index: number): string {
  return listener.port === 0 ? `${listener.type}:auto${index}` : listenerName(listener);
}

function listenerOptions(listener: ListenerConfig, name: string, shared: SharedConnectionLimit, logger: Logger): ListenerOptions {
  const secure = listener.type === 'tls' || listener.type === 'wss';
  return {
    type: listener.type,
    port: listener.port,
    host: listener.bind_address,
    name,
    proxyProtocol: listener.proxy_protocol,
    maxConnections: listener.max_connections,
    maxConnectionsPerSecond: listener.max_connections_per_second,
    sharedLimit: shared,
    logger,
    ...(listener.type === 'ws' || listener.type === 'wss' ? { path: listener.path } : {}),
    ...(secure
      ? {
          tls: {
            certfile: listener.certfile,
            keyfile: listener.keyfile,
            ...(listener.cafile !== '' ? { cafile: listener.cafile } : {}),
            requireCertificate: listener.require_certificate,
            minVersion: listener.tls_version,
          },
        }
      : {}),
  };
}

/**
 * Builds and starts everything the config describes. Throws (before anything listens) on a
 * bad password file, ACL file or topic table, and TransportError when a listener cannot bind.
 */
export async function startCulex(config: CulexConfig, logger: Logger, version: string): Promise<RunningCulex> {
  const clock = new SystemClock();
  const listeners = resolveListeners(config);
  const names = listeners.map(nameOf);

  const passwords = config.password_file !== '' ? PasswordFile.load(config.password_file) : undefined;
  const acl = config.acl_file !== '' ? await AclFile.load(config.acl_file) : undefined;
  for (const warning of acl?.warnings ?? []) logger.warn({ warning }, 'acl_file');
  const rules = config.topic_rules !== null ? new TopicRules(config.topic_rules) : undefined;
  const db = openDatabase(config.persistence_location);
  const tokens = new TokenStore(db);
  const local = config.persistence === 'sqlite' ? new SqliteDurableStore(db, { sync: config.persistence_sync }) : undefined;
  const { cluster, durable, mirrorRedis } = await clusterParts(config, local, logger);

  const standard = new StandardAuthenticator({
    allowAnonymous: config.allow_anonymous,
    passwords,
    tokens,
    certificateIdentityListeners: new Set(names.filter((_, i) => listeners[i]?.use_identity_as_username === true)),
  });
  // an attempt held longer than connect_timeout would be closed without a CONNACK
  const maxDelayMs = Math.min(config.auth_failure_delay_max, Math.max(config.connect_timeout - 1, 0)) * 1000;
  const backoff =
    config.auth_failure_delay > 0 ? new LoginBackoff(standard, { clock, delayMs: config.auth_failure_delay * 1000, maxDelayMs, logger }) : undefined;
  const authenticator: Authenticator = backoff ?? standard;
  const parts: Authorizer[] = [...(acl !== undefined ? [acl] : []), ...(rules !== undefined ? [rules] : [])];
  const authorizer = parts.length === 1 ? parts[0] : parts.length > 1 ? new CombinedAuthorizer(parts) : undefined;

  const broker = createBroker({
    ...settingsFromConfig(config, version),
    logger,
    clock,
    authenticator,
    ...(authorizer !== undefined ? { authorizer } : {}),
    ...(durable !== undefined ? { durable } : {}),
    ...(cluster !== undefined ? { cluster } : {}),
  });
  const shared = new SharedConnectionLimit(config.max_connections);
  const started: StartedListener[] = [];
  const running: RunningListener[] = [];
  let http: RunningHttpServer | undefined;
  const close = async (): Promise<void> => {
    await http?.close();
    await broker.close();
    mirrorRedis?.disconnect();
    backoff?.dispose();
    db.close();
  };
  try {
    for (const [i, listener] of listeners.entries()) {
      const name = names[i] as string;
      const run = await broker.listenOn(listenerOptions(listener, name, shared, logger));
      running.push(run);
      started.push({ name, type: listener.type, address: run.address() });
    }
    let httpAddress: AddressInfo | undefined;
    if (config.http_port >= 0) {
      const startedAt = clock.now();
      http = createHttpServer({
        version,
        status: () => ({ clients: broker.connectionCount, uptimeSeconds: Math.floor((clock.now() - startedAt) / 1000) }),
      });
      const wsName = `http:${config.http_port}`;
      attachWebSocket(http.server, broker, { path: '/mqtt', listener: wsName, maxMessageBytes: config.max_packet_size + 64 * 1024 });
      httpAddress = await http.listen(config.http_port, resolveHttpBindAddress(config));
    }
    return {
      broker,
      listeners: started,
      http: httpAddress,
      async reload() {
        const attempt = (what: string, fn: () => unknown): Promise<void> =>
          Promise.resolve()
            .then(fn)
            .then(
              () => logger.info({ what }, 'reloaded'),
              (err: unknown) => logger.error({ what, err: (err as Error).message }, 'reload failed; the previous one stays in force'),
            );
        await Promise.all([
          ...(passwords !== undefined ? [attempt('password_file', () => passwords.reload())] : []),
          ...(acl !== undefined ? [attempt('acl_file', () => acl.reload())] : []),
          ...running.filter((l) => l.type === 'tls' || l.type === 'wss').map((l) => attempt(`certificates of ${l.name}`, () => l.reload())),
        ]);
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** "<host name>-<pid>", reduced to the characters a node id may have. */
function defaultNodeId(): string {
  return `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._:-]/g, '-').slice(0, 64);
}

/**
 * In a cluster, sessions are also mirrored to Redis (asynchronously), so that when a node
 * dies another one can take its clients' sessions over; the node's own store (SQLite, if
 * any) stays the one acknowledgements wait for and restarts read.
 */
async function clusterParts(
  config: CulexConfig,
  local: DurableStore | undefined,
  logger: Logger,
): Promise<{ cluster?: RedisClusterLink; durable?: DurableStore; mirrorRedis?: Redis }> {
  if (config.cluster === '') return local === undefined ? {} : { durable: local };
  // loaded only for a cluster: a single broker never pays for the Redis client
  const [{ Redis }, { RedisClusterLink }, { RedisSessionMirror }, { redisOptions }] = await Promise.all([
    import('ioredis'),
    import('../adapters/redis/cluster-link.js'),
    import('../adapters/redis/session-mirror.js'),
    import('../adapters/redis/wire.js'),
  ]);
  const nodeId = config.node_id !== '' ? config.node_id : defaultNodeId();
  const mirrorRedis = new Redis(config.cluster, redisOptions());
  // reported by the cluster link already; this connection only needs not to crash on them
  mirrorRedis.on('error', () => undefined);
  const mirror = new RedisSessionMirror({ redis: mirrorRedis, nodeId, logger });
  const cluster = new RedisClusterLink({ url: config.cluster, nodeId, logger, orphans: mirror });
  // sessions restored from the local store are mirrored whole when the node (re)joins (the
  // cluster link's sessionKept), and change by change from then on
  const durable = local === undefined ? mirror : new TeeStore(local, mirror);
  return { cluster, durable, mirrorRedis };
}
