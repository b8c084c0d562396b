// What the resolved configuration means in practice: the listeners that will actually be
// opened, their names, and the address the HTTP server binds to. Pure functions of the config,
// for the composition root (src/app/) and for the loader's own port-conflict check.
import { defaultListener, type CulexConfig, type ListenerConfig } from './schema.js';

type ListenerKeys = Pick<CulexConfig, 'listeners' | 'port' | 'host'>;

/**
 * The listeners to open: `listeners` with every empty bind_address replaced by `host`, or,
 * when `listeners` is absent, one tcp listener on `port` and `host`.
 */
export function resolveListeners(config: ListenerKeys): ListenerConfig[] {
  if (config.listeners === null) return [{ ...defaultListener(config.port), bind_address: config.host }];
  return config.listeners.map((l) => (l.bind_address === '' ? { ...l, bind_address: config.host } : { ...l }));
}

/** The name a listener goes by in logs, limits and ConnectInfo.listener, e.g. `tls:8883`. */
export function listenerName(listener: Pick<ListenerConfig, 'type' | 'port'>): string {
  return `${listener.type}:${listener.port}`;
}

/** The HTTP server's address: http_bind_address, or else the first listener's address. */
export function resolveHttpBindAddress(config: ListenerKeys & Pick<CulexConfig, 'http_bind_address'>): string {
  if (config.http_bind_address !== '') return config.http_bind_address;
  return resolveListeners(config)[0]?.bind_address ?? config.host;
}

export interface PortUser {
  /** The key path that sets the port: `port`, `listeners[2].port` or `http_port`. */
  readonly path: string;
  readonly port: number;
  readonly address: string;
}
export interface PortConflict {
  readonly first: PortUser;
  readonly second: PortUser;
}

/**
 * Pairs of sockets that could not both be bound: the same port on overlapping addresses
 * (a wildcard overlaps every address of its family; `::` overlaps everything, since Node
 * listens dual-stack there). Port 0 (any free port) never conflicts.
 */
export function findPortConflicts(config: ListenerKeys & Pick<CulexConfig, 'http_port' | 'http_bind_address'>): PortConflict[] {
  const users: PortUser[] = resolveListeners(config).map((l, i) => ({
    path: config.listeners === null ? 'port' : `listeners[${i}].port`,
    port: l.port,
    address: l.bind_address,
  }));
  if (config.http_port > 0) users.push({ path: 'http_port', port: config.http_port, address: resolveHttpBindAddress(config) });
  const out: PortConflict[] = [];
  for (let j = 0; j < users.length; j++) {
    const second = users[j]!;
    if (second.port === 0) continue;
    const first = users.slice(0, j).find((u) => u.port === second.port && addressesOverlap(u.address, second.address));
    if (first !== undefined) out.push({ first, second });
  }
  return out;
}

function addressesOverlap(a: string, b: string): boolean {
  if (a === b || a === '::' || b === '::') return true;
  const v6 = (x: string): boolean => x.includes(':');
  if (a === '0.0.0.0') return !v6(b);
  if (b === '0.0.0.0') return !v6(a);
  return false;
}
