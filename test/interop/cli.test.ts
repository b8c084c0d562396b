// The `culex` command as users run it: a child process, flags, config file errors,
// signals, and its JSON log lines on stdout.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tcpTestClient } from '../helpers/mqtt-test-client.js';
import { CLI, REPO_ROOT, killAllChildren, parseLogLines, removeDir, run, startCliBroker, tempDir } from './support.js';

const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('culex CLI', () => {
  const dirs: string[] = [];
  after(async () => {
    await killAllChildren();
    for (const d of dirs) removeDir(d);
  });

  test('--version prints the package version and exits 0', async () => {
    const child = await run(process.execPath, [CLI, '--version']);
    assert.equal(child.exit?.code, 0, child.describe());
    assert.equal(child.stdout.trim(), `culex ${VERSION}`);
  });

  test('--help prints the usage, naming every flag, and exits 0', async () => {
    const child = await run(process.execPath, [CLI, '--help']);
    assert.equal(child.exit?.code, 0, child.describe());
    assert.match(child.stdout, /usage: culex/);
    for (const flag of ['--port', '--host', '--config', '--data', '--log-level', '--version', '--help']) {
      assert.ok(child.stdout.includes(flag), `--help does not mention ${flag}:\n${child.stdout}`);
    }
  });

  test('an unknown flag exits 2 with the usage on stderr', async () => {
    const child = await run(process.execPath, [CLI, '--no-such-flag']);
    assert.equal(child.exit?.code, 2, child.describe());
    assert.match(child.stderr, /no-such-flag/);
    assert.match(child.stderr, /usage: culex/);
  });

  test('starts on --port 0, logs the real port, creates the data dir and accepts MQTT', async () => {
    const broker = await startCliBroker();
    try {
      assert.ok(broker.port > 0 && broker.port < 65536, `port ${broker.port}`);
      const listening = broker.logs().find((l) => l.msg === 'listening');
      assert.equal(listening?.host, '127.0.0.1');
      assert.equal(listening?.version, VERSION);
      assert.equal(listening?.data, broker.dataDir);
      assert.equal(listening?.level, 30, 'the listening line is an info-level pino line');
      assert.ok(existsSync(broker.dataDir) && statSync(broker.dataDir).isDirectory(), 'data dir created');
      const client = await tcpTestClient(broker.port);
      const connack = await client.connect({ clientId: 'cli-test' });
      assert.equal(connack.reasonCode, 0);
      client.disconnect();
      await client.closedWithin();
    } finally {
      await broker.dispose();
    }
  });

  test('--http-port -1 (a negative value after its flag) turns the HTTP server off', async () => {
    const broker = await startCliBroker({ extraArgs: ['--http-port', '-1'] });
    try {
      const lines = broker.logs().filter((l) => l.msg === 'listening');
      assert.ok(lines.length >= 1, broker.child.describe());
      assert.deepEqual(
        lines.filter((l) => String(l.listener).startsWith('http')),
        [],
        'no HTTP listener',
      );
    } finally {
      await broker.dispose();
    }
  });

  test('SIGTERM shuts down cleanly: exit 0, "shutting down" then "stopped" logged', async () => {
    const broker = await startCliBroker();
    try {
      // a connected client must not keep the process alive
      const client = await tcpTestClient(broker.port);
      await client.connect({ clientId: 'sigterm-test' });
      const exit = await broker.stop(5000);
      assert.deepEqual(exit, { code: 0, signal: null }, broker.child.describe());
      const msgs = broker.logs().map((l) => l.msg);
      const down = msgs.indexOf('shutting down');
      const stopped = msgs.indexOf('stopped');
      assert.ok(down >= 0, `no "shutting down" line:\n${broker.child.stdout}`);
      assert.ok(stopped > down, `no "stopped" line after "shutting down":\n${broker.child.stdout}`);
      assert.equal(broker.logs()[down]?.signal, 'SIGTERM');
      await client.closedWithin(2000);
      assert.equal(broker.child.stderr, '');
    } finally {
      await broker.dispose();
    }
  });

  test('SIGINT shuts down cleanly too', async () => {
    const broker = await startCliBroker();
    try {
      broker.child.kill('SIGINT');
      const exit = await broker.child.waitExit(5000, 'culex to exit after SIGINT');
      assert.deepEqual(exit, { code: 0, signal: null }, broker.child.describe());
      assert.ok(broker.logs().some((l) => l.msg === 'stopped'));
    } finally {
      await broker.dispose();
    }
  });

  test('a config file sets values; flags override it', async () => {
    const broker = await startCliBroker({ config: 'port: 1\nlog_level: debug\nmax_packet_size: 4096\nallow_anonymous: true\n' });
    try {
      // --port 0 (a flag) won over port: 1 (the file)
      assert.notEqual(broker.port, 1);
      // --log-level info (a flag) won over log_level: debug: no debug lines (level 20)
      const client = await tcpTestClient(broker.port);
      await client.connect({ clientId: 'cfg-test' });
      client.disconnect();
      await client.closedWithin();
      assert.ok(!broker.logs().some((l) => l.level === 20), broker.child.stdout);
    } finally {
      await broker.dispose();
    }
  });

  function configFile(text: string): string {
    const dir = tempDir('culex-cli-');
    dirs.push(dir);
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, text);
    return file;
  }

  test('a config file with an unknown key: exit 2, stderr names file:line and the key', async () => {
    const file = configFile('# comment\nport: 1884\nmax_inflight_messages: 10\nno_such_key: 3\n');
    const child = await run(process.execPath, [CLI, '--config', file, '--port', '0', '--host', '127.0.0.1']);
    assert.equal(child.exit?.code, 2, child.describe());
    assert.ok(child.stderr.includes(`${file}:4`), `stderr does not name ${file}:4:\n${child.stderr}`);
    assert.match(child.stderr, /no_such_key/);
    assert.match(child.stderr, /unknown key/);
    assert.equal(parseLogLines(child.stdout).filter((l) => l.msg === 'listening').length, 0, 'it must not start');
  });

  test('a config file with a value of the wrong type: exit 2, stderr names file:line and the key', async () => {
    const file = configFile('port: 1884\n\nmax_packet_size: "big"\n');
    const child = await run(process.execPath, [CLI, '--config', file, '--port', '0', '--host', '127.0.0.1']);
    assert.equal(child.exit?.code, 2, child.describe());
    assert.ok(child.stderr.includes(`${file}:3`), `stderr does not name ${file}:3:\n${child.stderr}`);
    assert.match(child.stderr, /max_packet_size/);
    assert.match(child.stderr, /integer/);
  });

  test('a config value out of range and a bool of the wrong type are refused the same way', async () => {
    const range = configFile('max_inflight_messages: 70000\n');
    const r = await run(process.execPath, [CLI, '--config', range, '--port', '0', '--host', '127.0.0.1']);
    assert.equal(r.exit?.code, 2, r.describe());
    assert.ok(r.stderr.includes(`${range}:1`) && r.stderr.includes('max_inflight_messages'), r.stderr);
    const bool = configFile('sys_interval: 5\nallow_zero_length_clientid: "yes"\n');
    const b = await run(process.execPath, [CLI, '--config', bool, '--port', '0', '--host', '127.0.0.1']);
    assert.equal(b.exit?.code, 2, b.describe());
    assert.ok(b.stderr.includes(`${bool}:2`) && b.stderr.includes('allow_zero_length_clientid'), b.stderr);
  });

  test('a missing config file: exit 2, stderr names the file', async () => {
    const dir = tempDir('culex-cli-');
    dirs.push(dir);
    const file = join(dir, 'missing.yaml');
    const child = await run(process.execPath, [CLI, '--config', file, '--port', '0', '--host', '127.0.0.1']);
    assert.equal(child.exit?.code, 2, child.describe());
    assert.ok(child.stderr.includes(file), child.stderr);
  });

  test('a bad flag value (--log-level loud, --port x): exit 2, stderr names the flag', async () => {
    const level = await run(process.execPath, [CLI, '--log-level', 'loud', '--port', '0', '--host', '127.0.0.1']);
    assert.equal(level.exit?.code, 2, level.describe());
    assert.match(level.stderr, /--log-level/);
    const port = await run(process.execPath, [CLI, '--port', 'x', '--host', '127.0.0.1']);
    assert.equal(port.exit?.code, 2, port.describe());
    assert.match(port.stderr, /--port/);
  });
});
