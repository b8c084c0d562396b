// From command-line flags and an optional config file to the one CulexConfig the broker
// runs with: defaults, then the file (YAML or mosquitto.conf), then the flags, then the
// secure-defaults rule below.
import { isIP } from 'node:net';
import { ConfigError, checkValue, loadConfigFile, resolveConfig } from '../config/load.js';
import { readMosquittoConf } from '../config/mosquitto-conf.js';
import type { ConfigWarning } from '../config/errors.js';
import { CONFIG_KEYS, type CulexConfig } from '../config/schema.js';

export interface BrokerFlags {
  port?: string | undefined;
  host?: string | undefined;
  httpPort?: string | undefined;
  config?: string | undefined;
  mosquittoConf?: string | undefined;
  data?: string | undefined;
  persistence?: string | undefined;
  cluster?: string | undefined;
  nodeId?: string | undefined;
  logLevel?: string | undefined;
}

export interface ResolvedCliConfig {
  config: CulexConfig;
  /** True when no config file was given: mosquitto 2's "local only mode" applies. */
  localOnly: boolean;
  warnings: readonly ConfigWarning[];
}

const LOCAL_HOST = '127.0.0.1';

export function isLoopback(address: string): boolean {
  if (address === 'localhost' || address === '::1') return true;
  return isIP(address) === 4 && address.startsWith('127.');
}

type FlagKey = 'port' | 'host' | 'http_port' | 'persistence_location' | 'persistence' | 'cluster' | 'node_id' | 'log_level';

function flagValue(flag: string, key: FlagKey, raw: string): number | boolean | string {
  const numeric = key === 'port' || key === 'http_port';
  const value = numeric && /^-?\d+$/.test(raw) ? Number(raw) : raw;
  return checkValue(CONFIG_KEYS[key], value, (problem) => new ConfigError(`--${flag}`, undefined, undefined, problem));
}

/**
 * Secure defaults: with no config file at all, Culex listens on 127.0.0.1 and accepts
 * anonymous clients (mosquitto 2's local only mode), so `culex` just works on a laptop and
 * is not an open broker on a network. Given an address that is not loopback (`--host
 * 0.0.0.0`) without a config file, anonymous clients are refused: say who may connect in a
 * config file. With a config file, allow_anonymous defaults to false.
 */
export function resolveCliConfig(flags: BrokerFlags): ResolvedCliConfig {
  if (flags.config !== undefined && flags.mosquittoConf !== undefined) {
    throw new ConfigError('--mosquitto-conf', undefined, undefined, 'give either --config or --mosquitto-conf, not both');
  }
  let file: Partial<CulexConfig> = {};
  let warnings: readonly ConfigWarning[] = [];
  if (flags.config !== undefined) file = loadConfigFile(flags.config);
  if (flags.mosquittoConf !== undefined) ({ config: file, warnings } = readMosquittoConf(flags.mosquittoConf));
  const localOnly = flags.config === undefined && flags.mosquittoConf === undefined;

  const overrides: Partial<CulexConfig> = {};
  const set = <K extends FlagKey>(flag: string, key: K, raw: string | undefined): void => {
    if (raw !== undefined) (overrides as Record<string, unknown>)[key] = flagValue(flag, key, raw);
  };
  set('port', 'port', flags.port);
  set('host', 'host', flags.host);
  set('http-port', 'http_port', flags.httpPort);
  set('data', 'persistence_location', flags.data);
  set('persistence', 'persistence', flags.persistence);
  set('cluster', 'cluster', flags.cluster);
  set('node-id', 'node_id', flags.nodeId);
  set('log-level', 'log_level', flags.logLevel);
  if (localOnly && overrides.host === undefined) overrides.host = LOCAL_HOST;

  const config = resolveConfig(file, overrides);
  // with listeners in the file, --port moves the first tcp listener (tests and one-off runs)
  if (config.listeners !== null && overrides.port !== undefined) {
    const tcp = config.listeners.findIndex((l) => l.type === 'tcp');
    if (tcp < 0) throw new ConfigError('--port', undefined, undefined, 'the config file has no tcp listener to move');
    config.listeners = config.listeners.map((l, i) => (i === tcp ? { ...l, port: overrides.port as number } : l));
  }
  if (localOnly) config.allow_anonymous = isLoopback(config.host);
  return { config, localOnly, warnings };
}
