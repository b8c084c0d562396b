// Password files across Culex and mosquitto, in both directions:
// (a) files written by Debian's mosquitto_passwd 2.0.11 are read by PasswordFile;
// (b) files written by `culex passwd` are read by a real mosquitto 2.0.11 broker;
// (c) over a real socket, a wrong password is refused (3.1.1: 4; 5.0: 0x86) while a good
//     client connected at the same time goes on publishing and receiving;
// (d) `culex passwd` answers bad invocations with mosquitto_passwd's messages and exit codes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import mqtt, { type MqttClient } from 'mqtt';
import { PasswordFile } from '../../src/adapters/auth/password-file.js';
import { StandardAuthenticator } from '../../src/adapters/auth/standard-authenticator.js';
import { createBroker, type CulexBroker } from '../../src/app/create-broker.js';
import { runPasswd } from '../../src/cli/passwd.js';
import { waitFor } from '../helpers/wait-for.js';
import { Child, killAllChildren, removeDir, requireTool, run, runMosquittoPub, tempDir, uniqueTopic } from './support.js';

const pw = (s: string): Buffer => Buffer.from(s);

/** requireTool with the way to get mosquitto's own programs in the message. */
function tool(name: string): string {
  try {
    return requireTool(name);
  } catch {
    throw new Error(`${name} not found: apt-get install mosquitto mosquitto-clients, or run npm run test:all`);
  }
}

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function culexPasswd(args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdin = new PassThrough();
  stdin.end(input);
  const stdout = new Sink();
  const stderr = new Sink();
  const code = await runPasswd(args, { stdin, stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('password files: Culex and mosquitto 2.0.11', () => {
  let dir: string;
  before(() => {
    dir = tempDir('culex-passwd-interop-');
  });
  after(async () => {
    await killAllChildren();
    removeDir(dir);
  });

  describe('(a) files written by mosquitto_passwd are read by PasswordFile', () => {
    test('-c -b ($7$), then -b -H sha512 ($6$) and -I 5 for more users', async () => {
      const mp = tool('mosquitto_passwd');
      const file = join(dir, 'mosq-made');
      for (const args of [['-c', '-b', file, 'alice', 'alice pw'], ['-H', 'sha512', '-b', file, 'bob', 'b:pw'], ['-I', '5', '-b', file, 'carol', 'ünïcode']]) {
        const r = await run(mp, args);
        assert.equal(r.exit?.code, 0, r.describe());
      }
      const text = readFileSync(file, 'utf8');
      assert.match(text, /^alice:\$7\$101\$.*\nbob:\$6\$.*\ncarol:\$7\$5\$/s);
      const pf = PasswordFile.load(file);
      assert.deepEqual(pf.usernames(), ['alice', 'bob', 'carol']);
      assert.equal(pf.verify('alice', pw('alice pw')), true);
      assert.equal(pf.verify('bob', pw('b:pw')), true);
      assert.equal(pf.verify('carol', pw('ünïcode')), true);
      assert.equal(pf.verify('alice', pw('b:pw')), false);
      assert.equal(pf.verify('carol', pw('unicode')), false);
    });

    test('-U (a plain-text file hashed by mosquitto_passwd)', async () => {
      const mp = tool('mosquitto_passwd');
      const file = join(dir, 'mosq-upgraded');
      writeFileSync(file, 'alice:first secret\n bob :second\n');
      const r = await run(mp, ['-U', file]);
      assert.equal(r.exit?.code, 0, r.describe());
      const pf = PasswordFile.load(file);
      assert.equal(pf.verify('alice', pw('first secret')), true);
      assert.equal(pf.verify('bob', pw('second')), true);
      assert.equal(pf.verify('bob', pw('first secret')), false);
    });

    test('and mosquitto_passwd goes on maintaining a file that culex passwd wrote', async () => {
      const mp = tool('mosquitto_passwd');
      const file = join(dir, 'mixed-hands');
      assert.equal((await culexPasswd(['-c', '-b', file, 'alice', 'a'])).code, 0);
      const r = await run(mp, ['-b', file, 'bob', 'b']);
      assert.equal(r.exit?.code, 0, r.describe());
      assert.equal((await culexPasswd(['-b', file, 'carol', 'c'])).code, 0);
      const pf = PasswordFile.load(file);
      assert.deepEqual(pf.usernames(), ['alice', 'bob', 'carol']);
      for (const [u, p] of [['alice', 'a'], ['bob', 'b'], ['carol', 'c']] as const) assert.equal(pf.verify(u, pw(p)), true, u);
    });
  });

  describe('(b) a file written by culex passwd is accepted by a real mosquitto broker', () => {
    let port: number;
    let broker: Child;

    before(async () => {
      const mosquitto = tool('/usr/sbin/mosquitto');
      const file = join(dir, 'for-mosquitto');
      for (const args of [['-c', '-b', file, 'alice', 'alice pw'], ['-H', 'sha512', '-b', file, 'bob', 'bob pw'], ['-I', '1000', '-b', file, 'carol', 'carol pw']]) {
        const r = await culexPasswd(args);
        assert.equal(r.code, 0, r.stderr);
      }
      port = await freePort();
      const conf = join(dir, 'mosquitto.conf');
      // `user root`: started as root, mosquitto would switch to the mosquitto user, which may not
      // enter our 0700 temp dir or read the 0600 file; as anyone else it ignores the setting
      const lines = [`listener ${port} 127.0.0.1`, 'user root', 'allow_anonymous false', `password_file ${file}`, 'persistence false', 'log_dest stderr', 'log_type all', ''];
      writeFileSync(conf, lines.join('\n'));
      broker = new Child(mosquitto, ['-c', conf]);
      await waitFor(
        () => {
          if (broker.exit !== undefined) throw new Error(`mosquitto exited: ${broker.describe()}`);
          return /mosquitto version \S+ running/.test(broker.stderr);
        },
        { timeoutMs: 10_000, message: () => `mosquitto to start; ${broker.describe()}` },
      );
      assert.doesNotMatch(broker.stderr, /Error|removing entry/i, 'mosquitto refused an entry of the file');
    });
    after(() => broker?.kill('SIGKILL'));

    for (const version of ['mqttv311', 'mqttv5']) {
      test(`mosquitto_pub -V ${version}: the right passwords connect ($7$, $6$, $7$ with 1000 iterations)`, async () => {
        const pub = tool('mosquitto_pub');
        for (const [u, p] of [['alice', 'alice pw'], ['bob', 'bob pw'], ['carol', 'carol pw']] as const) {
          await runMosquittoPub(pub, ['-V', version, '-h', '127.0.0.1', '-p', String(port), '-u', u, '-P', p, '-t', uniqueTopic('pw'), '-m', 'x']);
        }
      });

      test(`mosquitto_pub -V ${version}: a wrong password, or none, is refused`, async () => {
        const pub = tool('mosquitto_pub');
        for (const creds of [['-u', 'alice', '-P', 'bob pw'], ['-u', 'bob', '-P', 'bob pW'], ['-u', 'alice']]) {
          const r = await run(pub, ['-V', version, '-h', '127.0.0.1', '-p', String(port), ...creds, '-t', 'x', '-m', 'x']);
          // mosquitto answers "not authorized" (5 / 0x87), which mosquitto_pub returns as its exit code
          assert.equal(r.exit?.code, version === 'mqttv5' ? 135 : 5, r.describe());
        }
      });
    }
  });

  describe('(c) Culex with StandardAuthenticator: a wrong password is refused, a good client is unaffected', () => {
    let broker: CulexBroker;
    let port: number;
    const clients = new Set<MqttClient>();

    before(async () => {
      const file = join(dir, 'for-culex');
      assert.equal((await culexPasswd(['-c', '-b', file, 'alice', 'alice pw'])).code, 0);
      assert.equal((await culexPasswd(['-b', file, 'bob', 'bob pw'])).code, 0);
      broker = createBroker({ sysInterval: 0, authenticator: new StandardAuthenticator({ allowAnonymous: false, passwords: PasswordFile.load(file) }) });
      port = (await broker.listen(0, '127.0.0.1')).port;
    });
    after(async () => {
      for (const c of clients) c.end(true);
      await broker.close();
    });

    function connect(version: 4 | 5, username: string, password: string): Promise<MqttClient> {
      const client = mqtt.connect({ host: '127.0.0.1', port, protocolVersion: version, username, password, reconnectPeriod: 0, connectTimeout: 5000, clientId: `pw-${Math.random().toString(36).slice(2, 10)}` });
      clients.add(client);
      return new Promise((resolve, reject) => {
        client.once('connect', () => resolve(client));
        client.once('error', reject);
      });
    }

    test('wrong passwords get CONNACK 4 (3.1.1) and 0x86 (5.0); unknown users too; meanwhile alice keeps publishing and receiving', async () => {
      const topic = uniqueTopic('pw/live');
      const good = await connect(5, 'alice', 'alice pw');
      let closes = 0;
      good.on('close', () => closes++);
      const received: string[] = [];
      good.on('message', (_t, payload) => received.push(payload.toString()));
      await good.subscribeAsync(`${topic}/#`, { qos: 1 });

      const refusals: Promise<number>[] = [];
      const sent: string[] = [];
      for (let i = 0; i < 10; i++) {
        const [version, user, pass] = ([[4, 'alice', 'wrong'], [5, 'alice', 'wrong'], [4, 'mallory', 'alice pw'], [5, 'bob', 'alice pw']] as const)[i % 4] as readonly [4 | 5, string, string];
        refusals.push(
          connect(version, user, pass).then(
            () => assert.fail(`${user}/${pass} (v${version}) was accepted`),
            (err: { code?: number }) => {
              assert.equal(err.code, version === 5 ? 0x86 : 4, String(err));
              return err.code as number;
            },
          ),
        );
        const payload = `m${i}`;
        sent.push(payload);
        await good.publishAsync(`${topic}/${i}`, payload, { qos: 1 });
      }
      assert.equal((await Promise.all(refusals)).length, 10);
      for (let i = 10; i < 15; i++) {
        sent.push(`m${i}`);
        await good.publishAsync(`${topic}/${i}`, `m${i}`, { qos: 1 });
      }
      await waitFor(() => received.length >= sent.length, { message: () => `alice to receive ${sent.length} messages; got ${received.length}` });
      assert.deepEqual(received, sent);
      assert.equal(good.connected, true);
      assert.equal(closes, 0);

      // and the right password still works afterwards
      const bob = await connect(4, 'bob', 'bob pw');
      assert.equal(bob.connected, true);
    });
  });

  describe("(d) culex passwd and mosquitto_passwd answer the same invocations alike", () => {
    const cases: { args: (file: string) => string[]; input?: string; compareStdout?: boolean }[] = [
      { args: () => ['-H'] },
      { args: (f) => ['-H', 'md5', f, 'u'] },
      { args: (f) => ['-I', '0', f, 'u'] },
      { args: (f) => ['-c', '-D', f, 'u'] },
      { args: (f) => ['-c', '-U', f] },
      { args: (f) => ['-D', '-U', f] },
      { args: (f) => ['-b', '-D', f, 'u'] },
      { args: (f) => ['-c', f] },
      { args: (f) => ['-c', '-b', f, 'u'] },
      { args: (f) => ['-D', f] },
      { args: (f) => ['-U', f, 'extra'] },
      { args: (f) => ['-b', f, 'a:b', 'p'] },
      { args: (f) => ['-b', f, 'a\x01b', 'p'] },
      { args: (f) => ['-D', f, 'nobody'] },
      { args: (f) => [f, 'u'], input: 'one\ntwo\n', compareStdout: true },
      { args: (f) => [f, 'u'], input: '', compareStdout: true },
      { args: (f) => ['-c', f, 'u'], input: 'same\nsame\n', compareStdout: true },
      { args: (f) => ['-b', `${f}-missing`, 'u', 'p'] },
      { args: (f) => [f] },
      { args: () => [] },
    ];
    for (const c of cases) {
      test(`passwd ${c.args('FILE').join(' ') || '(no arguments)'}${c.input === undefined ? '' : ` <<< ${JSON.stringify(c.input)}`}`, async () => {
        const mp = tool('mosquitto_passwd');
        const seed = join(dir, 'seed');
        writeFileSync(seed, 'alice:$7$101$eRsiFOpd9h3zUc1X$T0JSXtz8aTz71qI7Hr5bxhqP0D7hQ2uNNmvlAQcTVpNBiA1Ac6S54FQd1nxYZvWgbrcmTo7IhxOqwfr5qqqDhQ==\n');
        const mosqFile = join(dir, 'parity-mosq');
        const culexFile = join(dir, 'parity-culex');
        copyFileSync(seed, mosqFile);
        copyFileSync(seed, culexFile);
        const theirs = await run(mp, c.args(mosqFile), 10_000, c.input ?? '');
        const ours = await culexPasswd(c.args(culexFile), c.input ?? '');
        assert.equal(ours.code, theirs.exit?.code, `exit codes differ; mosquitto_passwd: ${theirs.describe()}\nculex: ${JSON.stringify(ours)}`);
        assert.equal(ours.stderr.replaceAll(culexFile, 'FILE'), theirs.stderr.replaceAll(mosqFile, 'FILE'));
        if (c.compareStdout) assert.equal(ours.stdout, theirs.stdout);
        else assert.equal(ours.stdout === '', theirs.stdout === '', 'one printed the usage, the other did not');
      });
    }
  });
});
