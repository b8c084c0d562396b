// Debian's mosquitto_pub / mosquitto_sub against the broker started by its CLI.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../helpers/wait-for.js';
import { Child, REPO_ROOT, killAllChildren, requireTool, run, runMosquittoPub, startCliBroker, startMosquittoSub, uniqueTopic, type CliBroker } from './support.js';

const VERSIONS = ['mqttv31', 'mqttv311', 'mqttv5'] as const;
type Version = (typeof VERSIONS)[number];

describe('mosquitto_pub / mosquitto_sub', () => {
  let broker: CliBroker | undefined;
  let pubPath = '';
  let subPath = '';
  let stdbufPath = '';

  // a missing tool fails every test with how to get it (never a skip)
  let missing: Error | undefined;

  before(async () => {
    try {
      pubPath = requireTool('mosquitto_pub');
      subPath = requireTool('mosquitto_sub');
      stdbufPath = requireTool('stdbuf');
    } catch (err) {
      missing = err as Error;
      return;
    }
    broker = await startCliBroker({ config: 'sys_interval: 1\nallow_anonymous: true\n' });
  });

  after(async () => {
    await killAllChildren();
    await broker?.dispose();
  });

  /** The broker's port; every test goes through here first, so a missing tool fails it. */
  function port(): string {
    if (missing) throw missing;
    assert.ok(broker, 'broker not started');
    return String(broker.port);
  }

  /** `mosquitto_sub -d -v <args>`, resolved once its SUBACK arrived. */
  function subscriber(args: string[]): Promise<Child> {
    return startMosquittoSub(stdbufPath, subPath, ['-h', '127.0.0.1', '-p', port(), '-v', ...args]);
  }

  /** The `topic payload` lines of a -v subscriber (its -d lines left out). */
  function messages(child: Child, topicPrefix: string): string[] {
    return child.stdoutLines.filter((l) => l.startsWith(topicPrefix));
  }

  function pub(args: string[], input?: string): Promise<void> {
    return runMosquittoPub(pubPath, ['-h', '127.0.0.1', '-p', port(), ...args], input);
  }

  for (const qos of [0, 1, 2] as const) {
    test(`QoS ${qos}: mosquitto_pub -> mosquitto_sub -C 3 -v`, async () => {
      const topic = uniqueTopic(`mq/qos${qos}`);
      const sub = await subscriber(['-t', `${topic}/#`, '-q', String(qos), '-C', '3']);
      for (const n of [1, 2, 3]) await pub(['-t', `${topic}/n${n}`, '-m', `message ${n}`, '-q', String(qos)]);
      const exit = await sub.waitExit(5000, 'mosquitto_sub -C 3 to exit');
      assert.equal(exit.code, 0, sub.describe());
      assert.deepEqual(messages(sub, topic), [1, 2, 3].map((n) => `${topic}/n${n} message ${n}`));
      // the -d lines show the QoS the broker delivered with
      const delivered = sub.stdoutLines.filter((l) => l.includes('received PUBLISH'));
      assert.equal(delivered.length, 3, sub.stdout);
      for (const line of delivered) assert.match(line, new RegExp(`q${qos},`), line);
    });
  }

  test('mosquitto_pub -l: 500 lines at QoS 2 arrive complete and in order', async () => {
    const topic = uniqueTopic('mq/lines');
    const sub = await subscriber(['-t', topic, '-q', '2', '-C', '500']);
    const lines = Array.from({ length: 500 }, (_, i) => `line ${i}`);
    await pub(['-t', topic, '-q', '2', '-l'], `${lines.join('\n')}\n`);
    const exit = await sub.waitExit(10_000, 'mosquitto_sub -C 500 to exit');
    assert.equal(exit.code, 0, sub.describe());
    assert.deepEqual(messages(sub, topic), lines.map((l) => `${topic} ${l}`));
  });

  test('persistent session (mosquitto_sub -c -i ID -q 1): QoS 1 messages sent while it is away are delivered on return', async () => {
    const topic = uniqueTopic('mq/session');
    const id = `mqsess-${Math.random().toString(36).slice(2, 10)}`;
    // -E: subscribe, then disconnect cleanly; -c keeps the session
    const first = await run(subPath, ['-h', '127.0.0.1', '-p', port(), '-c', '-i', id, '-q', '1', '-t', topic, '-E'], 5000);
    assert.equal(first.exit?.code, 0, first.describe());
    for (const n of [1, 2, 3]) await pub(['-t', topic, '-m', `away ${n}`, '-q', '1']);
    await pub(['-t', topic, '-m', 'qos 0 is not queued', '-q', '0']);
    const back = await run(subPath, ['-h', '127.0.0.1', '-p', port(), '-c', '-i', id, '-q', '1', '-t', topic, '-C', '3', '-v', '-d'], 5000);
    assert.equal(back.exit?.code, 0, back.describe());
    assert.match(back.stdout, /received CONNACK \(0\)/);
    assert.deepEqual(messages(back, topic), [1, 2, 3].map((n) => `${topic} away ${n}`));
    // clean up: a clean-session connect with the same id discards the session
    const clean = await run(subPath, ['-h', '127.0.0.1', '-p', port(), '-i', id, '-t', topic, '-E'], 5000);
    assert.equal(clean.exit?.code, 0, clean.describe());
  });

  test('a retained message (-r) reaches a later subscriber, flagged retained; an empty -r clears it', async () => {
    const topic = uniqueTopic('mq/retained');
    await pub(['-t', topic, '-m', 'kept', '-r', '-q', '1']);
    const sub = await run(subPath, ['-h', '127.0.0.1', '-p', port(), '-t', topic, '-C', '1', '-v', '-d'], 5000);
    assert.equal(sub.exit?.code, 0, sub.describe());
    assert.deepEqual(messages(sub, topic), [`${topic} kept`]);
    assert.match(sub.stdout, /received PUBLISH \(d0, q\d, r1,/, 'retained flag set on delivery of a retained message');
    // clearing: an empty retained message removes it; a new subscriber then gets nothing retained
    await pub(['-t', topic, '-n', '-r', '-q', '1']);
    const probe = await subscriber(['-t', topic, '-C', '1']);
    await pub(['-t', topic, '-m', 'live']);
    await probe.waitExit(5000, 'the probe subscriber to get the live message');
    assert.deepEqual(messages(probe, topic), [`${topic} live`], 'no retained message after clearing');
  });

  for (const version of VERSIONS) {
    test(`-V ${version}: pub/sub at QoS 1 with a retained message`, async () => {
      const topic = uniqueTopic(`mq/${version}`);
      await pub(['-V', version, '-t', `${topic}/retained`, '-m', 'r', '-r', '-q', '1']);
      const sub = await subscriber(['-V', version, '-t', `${topic}/#`, '-q', '1', '-C', '3']);
      await pub(['-V', version, '-t', `${topic}/a`, '-m', 'one', '-q', '1']);
      await pub(['-V', version, '-t', `${topic}/b`, '-m', 'two', '-q', '2']);
      const exit = await sub.waitExit(5000, `mosquitto_sub -V ${version} to exit`);
      assert.equal(exit.code, 0, sub.describe());
      assert.deepEqual(messages(sub, topic), [`${topic}/retained r`, `${topic}/a one`, `${topic}/b two`]);
    });
  }

  test('mixed versions: a v3.1 publisher reaches v3.1.1 and v5 subscribers', async () => {
    const topic = uniqueTopic('mq/mixed');
    const subs = await Promise.all((['mqttv311', 'mqttv5'] as Version[]).map((v) => subscriber(['-V', v, '-t', topic, '-q', '2', '-C', '1'])));
    await pub(['-V', 'mqttv31', '-t', topic, '-m', 'from 3.1', '-q', '2']);
    for (const sub of subs) {
      await sub.waitExit(5000, 'each subscriber to get the message');
      assert.deepEqual(messages(sub, topic), [`${topic} from 3.1`], sub.describe());
    }
  });

  test('will: mosquitto_sub --will-topic killed with SIGKILL -> the will reaches another subscriber', async () => {
    const topic = uniqueTopic('mq/will');
    const watcher = await subscriber(['-t', `${topic}/status`, '-q', '1', '-C', '1']);
    const dying = await subscriber([
      '-t', `${topic}/unused`,
      '--will-topic', `${topic}/status`, '--will-payload', 'gone', '--will-qos', '1',
    ]);
    dying.kill('SIGKILL');
    await dying.waitExit(5000);
    const exit = await watcher.waitExit(5000, 'the will to be delivered');
    assert.equal(exit.code, 0, watcher.describe());
    assert.deepEqual(messages(watcher, topic), [`${topic}/status gone`]);
  });

  test('no will on a clean disconnect (mosquitto_sub -C 1 exits normally)', async () => {
    const topic = uniqueTopic('mq/nowill');
    const watcher = await subscriber(['-t', `${topic}/#`, '-q', '1']);
    const clean = await subscriber(['-t', `${topic}/data`, '-C', '1', '--will-topic', `${topic}/status`, '--will-payload', 'gone']);
    await pub(['-t', `${topic}/data`, '-m', 'x', '-q', '1']);
    await clean.waitExit(5000, 'the clean subscriber to exit');
    // the watcher sees the data message; a marker published after the clean exit proves no will came before it
    await pub(['-t', `${topic}/marker`, '-m', 'end', '-q', '1']);
    await waitFor(() => messages(watcher, topic).includes(`${topic}/marker end`), { timeoutMs: 5000, message: () => watcher.describe() });
    assert.deepEqual(messages(watcher, topic), [`${topic}/data x`, `${topic}/marker end`]);
    watcher.kill('SIGTERM');
  });

  test('$SYS/broker/version is readable with mosquitto_sub (sys_interval: 1)', async () => {
    const sub = await run(subPath, ['-h', '127.0.0.1', '-p', port(), '-t', '$SYS/broker/version', '-C', '1', '-v'], 5000);
    assert.equal(sub.exit?.code, 0, sub.describe());
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(sub.stdout.trim(), `$SYS/broker/version culex ${version}`);
  });

  test('$SYS/broker/uptime is re-published every sys_interval, and a # subscriber never sees $SYS [MQTT-4.7.2-1]', async () => {
    const topic = uniqueTopic('mq/hash');
    // -R: retained messages left by other tests are not printed
    const hash = await subscriber(['-t', '#', '-R']);
    const sub = await run(subPath, ['-h', '127.0.0.1', '-p', port(), '-t', '$SYS/broker/uptime', '-C', '2', '-v'], 5000);
    assert.equal(sub.exit?.code, 0, sub.describe());
    const values = sub.stdoutLines.map((l) => l.replace('$SYS/broker/uptime ', ''));
    assert.equal(values.length, 2);
    assert.match(values[0] ?? '', /^\d+ seconds$/);
    assert.notEqual(values[0], values[1], 'the second value is a fresh update');
    // a $SYS update went out while the # subscriber was there; a marker after it closes the window
    await pub(['-t', topic, '-m', 'marker', '-q', '1']);
    await waitFor(() => hash.stdoutLines.includes(`${topic} marker`), { timeoutMs: 5000, message: () => hash.describe() });
    const seen = hash.stdoutLines.filter((l) => !l.startsWith('Client') && !l.startsWith('Subscribed'));
    assert.deepEqual(seen.filter((l) => l.startsWith('$')), [], 'a # subscription matched $SYS topics');
    hash.kill('SIGTERM');
  });
});
