// Where our mosquitto.conf reader refuses a line for a reason mosquitto shares, mosquitto
// itself (Debian's 2.0) refuses the same line: each snippet is given to both, and the line
// mosquitto reports ("Error found at FILE:LINE") must be the line our ConfigError names.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/errors.js';
import { readMosquittoConf } from '../../src/config/mosquitto-conf.js';
import { requireFile } from './support.js';

const MOSQUITTO = '/usr/sbin/mosquitto';

/** Snippets both refuse; `{port}` is a free port, so a snippet mosquitto accepts binds nothing of value. */
const bothRefuse: readonly (readonly [string, string])[] = [
  ['unknown key', 'listener {port}\nallow_anonymus true\n'],
  ['bad boolean', 'listener {port}\n\nallow_anonymous maybe\n'],
  ['per_listener_settings after a security setting', 'listener {port}\nallow_anonymous true\nper_listener_settings true\n'],
  ['max_qos out of range', 'listener {port}\nmax_qos 3\n'],
  ['max_packet_size below 20', 'listener {port}\nmax_packet_size 10\n'],
  ['max_keepalive out of range', 'listener {port}\nmax_keepalive 70000\n'],
  ['max_inflight_messages out of range', 'listener {port}\nmax_inflight_messages 70000\n'],
  ['sys_interval below 0', 'listener {port}\nsys_interval -1\n'],
  ['listener port out of range', 'listener 70000\n'],
  ['listener port 0 without a socket path', 'listener 0\n'],
  ['listener without a port', 'listener\n'],
  ['unknown protocol', 'listener {port}\nprotocol mqttsn\n'],
  ['expiration without a unit', 'listener {port}\npersistent_client_expiration 14\n'],
  ['unknown log_type', 'listener {port}\nlog_type verbose\n'],
  ['password_file twice', 'listener {port}\npassword_file /a\npassword_file /b\n'],
  ['empty password_file', 'listener {port}\npassword_file\n'],
  ['bridge address outside a bridge', 'listener {port}\naddress 127.0.0.1:1883\n'],
  ['include_dir that does not exist', 'listener {port}\ninclude_dir /nonexistent/culex-test\n'],
];

let dir = '';
let port = 0;

before(async () => {
  requireFile(MOSQUITTO, 'apt-get install mosquitto');
  dir = mkdtempSync(join(tmpdir(), 'culex-parity-'));
  port = await freePort();
});
after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

for (const [name, template] of bothRefuse) {
  test(`mosquitto and Culex refuse the same line: ${name}`, () => {
    const file = join(dir, `${name.replace(/\W+/g, '-')}.conf`);
    writeFileSync(file, template.replaceAll('{port}', String(port)));
    let ours: ConfigError | undefined;
    try {
      readMosquittoConf(file);
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      ours = err;
    }
    assert.ok(ours !== undefined, 'Culex accepts it');
    // A deadline, not a sleep: mosquitto exits at once on a config error; if it accepted the
    // file it would keep running, and the timeout ends it and fails the test.
    const run = spawnSync(MOSQUITTO, ['-c', file], { encoding: 'utf8', timeout: 5000 });
    const output = `${run.stdout}${run.stderr}`;
    assert.notEqual(run.status, 0, `mosquitto accepted it (status ${run.status}, signal ${run.signal}):\n${output}`);
    const reported = /Error found at (.+):(\d+)\./.exec(output);
    assert.ok(reported !== null, `mosquitto gave no line:\n${output}`);
    assert.deepEqual({ file: reported[1], line: Number(reported[2]) }, { file, line: ours.line }, `ours: ${ours.message}\nmosquitto: ${output}`);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
