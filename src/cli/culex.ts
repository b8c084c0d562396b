// `culex`: starts a broker. Flags override the config file, which overrides defaults.
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createBroker } from '../app/create-broker.js';
import { settingsFromConfig } from '../app/settings-from-config.js';
import { packageVersion } from '../app/version.js';
import { ConfigError, checkValue, loadConfigFile, resolveConfig } from '../config/load.js';
import { CONFIG_KEYS, type CulexConfig } from '../config/schema.js';

const USAGE = `usage: culex [options]

  --port N          MQTT TCP port (default 1883)
  --host ADDR       bind address (default 0.0.0.0)
  --config FILE     YAML config file (keys named as in mosquitto.conf; see docs/configuration.md)
  --data DIR        data directory (default ./data)
  --log-level L     fatal, error, warn, info, debug, trace, silent (default info)
  --version         print the version
  --help            this text
`;

function fail(message: string): never {
  process.stderr.write(`culex: ${message}\n`);
  process.exit(2);
}

function flagOverrides(values: Record<string, string | boolean | undefined>): Partial<CulexConfig> {
  const out: Partial<CulexConfig> = {};
  const flag = (name: string, key: 'port' | 'host' | 'persistence_location' | 'log_level'): void => {
    const raw = values[name];
    if (typeof raw !== 'string') return;
    const value = key === 'port' ? (/^\d+$/.test(raw) ? Number(raw) : raw) : raw;
    (out as Record<string, unknown>)[key] = checkValue(CONFIG_KEYS[key], value, (p) => new Error(`--${name}: ${p}`));
  };
  flag('port', 'port');
  flag('host', 'host');
  flag('data', 'persistence_location');
  flag('log-level', 'log_level');
  return out;
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        config: { type: 'string' },
        data: { type: 'string' },
        'log-level': { type: 'string' },
        version: { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const version = packageVersion();
  if (values.version) {
    process.stdout.write(`culex ${version}\n`);
    return;
  }

  let config: CulexConfig;
  try {
    const file = typeof values.config === 'string' ? loadConfigFile(values.config) : {};
    config = resolveConfig(file, flagOverrides(values));
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    fail((err as Error).message);
  }

  const logger = pino({ level: config.log_level, base: { pid: process.pid } }, pino.destination({ sync: true }));
  try {
    mkdirSync(config.persistence_location, { recursive: true });
  } catch (err) {
    fail(`cannot create data directory ${config.persistence_location}: ${(err as Error).message}`);
  }
  const broker = createBroker({ ...settingsFromConfig(config, version), logger });
  let address;
  try {
    address = await broker.listen(config.port, config.host);
  } catch (err) {
    fail(`cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`);
  }
  logger.info({ port: address.port, host: address.address, version, data: config.persistence_location }, 'listening');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    broker.close().then(
      () => {
        logger.info({}, 'stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`culex: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
