// `culex`: starts a broker (flags override the config file, which overrides defaults), or
// runs one of its tools (`culex passwd`, `culex tokens`).
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { resolveCliConfig } from '../app/cli-config.js';
import { startCulex, type RunningCulex } from '../app/start-culex.js';
import { packageVersion } from '../app/version.js';
import { runPasswd } from './passwd.js';
import { runTokens } from './tokens.js';

const USAGE = `usage: culex [options]                          start the broker
       culex passwd [options] FILE USER   manage a password file (as mosquitto_passwd)
       culex tokens create|revoke|list     manage API tokens (culex tokens --help)

  --port N              MQTT TCP port (default 1883; with listeners in the config: the first tcp one)
  --host ADDR           bind address (default 127.0.0.1 without a config file, else 0.0.0.0)
  --http-port N         HTTP port: health, MQTT over WebSocket at /mqtt (default 8080; -1 = off)
  --config FILE         YAML config file (keys named as in mosquitto.conf; see docs/configuration.md)
  --mosquitto-conf FILE read a mosquitto.conf instead of a YAML file
  --data DIR            data directory (default ./data)
  --persistence MODE    sqlite (default: sessions, queues, retained messages and wills
                        survive restarts, in DIR/culex.db) or memory
  --cluster URL         redis://host:port: run as one node of a cluster sharing that Redis
  --node-id NAME        this node's name in the cluster (default <host name>-<pid>)
  --log-level L         fatal, error, warn, info, debug, trace, silent (default info)
  --version             print the version
  --help                this text

Without a config file Culex runs in local only mode, as mosquitto 2 does: it listens on
127.0.0.1 and accepts anonymous clients. With a config file, allow_anonymous defaults to false.
`;

function fail(message: string): never {
  process.stderr.write(`culex: ${message}\n`);
  process.exit(2);
}

/**
 * `--http-port -1`: node's parseArgs (Node 20) takes "-1" for an option and calls the flag
 * ambiguous. A value that is a negative number is joined to its flag (`--http-port=-1`).
 */
function joinNegativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    if (arg.startsWith('--') && !arg.includes('=') && next !== undefined && /^-\d+$/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

async function main(argv: string[]): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: joinNegativeValues(argv),
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'http-port': { type: 'string' },
        config: { type: 'string' },
        'mosquitto-conf': { type: 'string' },
        data: { type: 'string' },
        persistence: { type: 'string' },
        cluster: { type: 'string' },
        'node-id': { type: 'string' },
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
  const text = (name: string): string | undefined => (typeof values[name] === 'string' ? (values[name] as string) : undefined);

  let resolved;
  try {
    resolved = resolveCliConfig({
      port: text('port'),
      host: text('host'),
      httpPort: text('http-port'),
      config: text('config'),
      mosquittoConf: text('mosquitto-conf'),
      data: text('data'),
      persistence: text('persistence'),
      cluster: text('cluster'),
      nodeId: text('node-id'),
      logLevel: text('log-level'),
    });
  } catch (err) {
    fail((err as Error).message);
  }
  const { config, localOnly, warnings } = resolved;

  const logger = pino({ level: config.log_level, base: { pid: process.pid } }, pino.destination({ sync: true }));
  for (const warning of warnings) logger.warn({ warning: warning.message }, 'mosquitto.conf');
  if (localOnly) {
    logger.warn(
      { host: config.host, allowAnonymous: config.allow_anonymous },
      config.allow_anonymous
        ? 'no config file: local only mode (127.0.0.1, anonymous clients allowed)'
        : 'no config file and a non-loopback address: anonymous clients are refused; give a config file saying who may connect',
    );
  }
  try {
    mkdirSync(config.persistence_location, { recursive: true });
  } catch (err) {
    fail(`cannot create data directory ${config.persistence_location}: ${(err as Error).message}`);
  }
  let running: RunningCulex;
  try {
    running = await startCulex(config, logger, version);
  } catch (err) {
    fail((err as Error).message);
  }
  for (const l of running.listeners) {
    logger.info({ listener: l.name, type: l.type, port: l.address.port, host: l.address.address, version, data: config.persistence_location }, 'listening');
  }
  if (running.http !== undefined) {
    logger.info({ listener: 'http', type: 'http', port: running.http.port, host: running.http.address, mqttPath: '/mqtt' }, 'listening');
  }

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    running.close().then(
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
  // as mosquitto: SIGHUP re-reads the password file, the ACL file and the certificates
  process.on('SIGHUP', () => {
    logger.info({ signal: 'SIGHUP' }, 'reloading');
    void running.reload();
  });
}

/** `culex passwd ...` and `culex tokens ...` are tools; anything else starts the broker. */
async function dispatch(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'passwd') {
    const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, isTTY: process.stdin.isTTY === true };
    process.exit(await runPasswd(rest, io));
  }
  if (command === 'tokens') process.exit(await runTokens(rest, { stdout: process.stdout, stderr: process.stderr }));
  await main(argv);
}

dispatch(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`culex: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
