// Debian's mosquitto_pub / mosquitto_sub speaking MQTT 5 (-V mqttv5) to the real `culex`
// process: shared subscriptions, message expiry, request/response properties and user
// properties, as the reference clients send and print them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/wait-for.js';
import { Child, killAllChildren, requireTool, run, runMosquittoPub, startCliBroker, startMosquittoSub, uniqueTopic, type CliBroker } from './support.js';

describe('mosquitto clients, MQTT 5 (-V mqttv5)', () => {
  let broker: CliBroker | undefined;
  let pubPath = '';
  let subPath = '';
  let stdbufPath = '';
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
    broker = await startCliBroker();
  });

  after(async () => {
    await killAllChildren();
    await broker?.dispose();
  });

  function port(): string {
    if (missing) throw missing;
    assert.ok(broker, 'broker not started');
    return String(broker.port);
  }

  function base(): string[] {
    return ['-h', '127.0.0.1', '-p', port(), '-V', 'mqttv5'];
  }

  /** A long-running mosquitto_sub -d, resolved once its SUBACK arrived. */
  function subscriber(args: string[]): Promise<Child> {
    return startMosquittoSub(stdbufPath, subPath, [...base(), ...args]);
  }

  /** Output lines that start with `prefix` (the -d lines left out). */
  function lines(child: Child, prefix: string): string[] {
    return child.stdoutLines.filter((l) => l.startsWith(prefix));
  }

  function pub(args: string[], input?: string): Promise<void> {
    return runMosquittoPub(pubPath, [...base(), ...args], input);
  }

  test('shared subscription: two mosquitto_sub on $share/g/<topic> split 10 messages, none lost or duplicated', async () => {
    const topic = uniqueTopic('mq5/share');
    const marker = `${topic}-marker`;
    // each member also has a plain subscription to a marker topic: deliveries to one client
    // keep their order, so once the marker arrives any duplicate routed before it has too
    const a = await subscriber(['-t', `$share/g/${topic}`, '-t', marker, '-q', '1', '-v']);
    const b = await subscriber(['-t', `$share/g/${topic}`, '-t', marker, '-q', '1', '-v']);
    const sent = Array.from({ length: 10 }, (_, i) => `m${i}`);
    await pub(['-t', topic, '-q', '1', '-l'], `${sent.join('\n')}\n`);
    await pub(['-t', marker, '-q', '1', '-m', 'end']);
    const got = (c: Child): string[] => lines(c, `${topic} `).map((l) => l.slice(topic.length + 1));
    await waitFor(() => [a, b].every((c) => lines(c, `${marker} end`).length === 1), {
      timeoutMs: 5000,
      message: () => `the marker at both members; a: ${a.describe()} b: ${b.describe()}`,
    });
    assert.deepEqual([...got(a), ...got(b)].sort(), [...sent].sort(), 'every message exactly once across the group');
    assert.equal(got(a).length, 5, `round robin: ${got(a).join(',')}`);
    assert.equal(got(b).length, 5, `round robin: ${got(b).join(',')}`);
    a.kill('SIGTERM');
    b.kill('SIGTERM');
  });

  test('message expiry: a message with message-expiry-interval 1 queued for an offline session is gone 1.2 s later; one without expiry arrives', async () => {
    const topic = uniqueTopic('mq5/expiry');
    const id = `mq5exp-${Math.random().toString(36).slice(2, 10)}`;
    // -c -x 60: a session that outlives the connection by 60 s; -E: subscribe and leave
    const first = await run(subPath, [...base(), '-c', '-i', id, '-x', '60', '-q', '1', '-t', topic, '-E'], 5000);
    assert.equal(first.exit?.code, 0, first.describe());
    const publishedAt = Date.now();
    await pub(['-t', topic, '-q', '1', '-m', 'expires', '-D', 'publish', 'message-expiry-interval', '1']);
    await pub(['-t', topic, '-q', '1', '-m', 'stays']);
    // real time must pass the 1 s interval: poll until it has (no fixed sleep)
    await waitFor(() => Date.now() - publishedAt >= 1200, { timeoutMs: 5000, intervalMs: 50, message: '1.2 s to pass' });
    const back = await run(subPath, [...base(), '-c', '-i', id, '-x', '0', '-q', '1', '-t', topic, '-C', '1', '-v', '-d'], 5000);
    assert.equal(back.exit?.code, 0, back.describe());
    assert.match(back.stdout, /received CONNACK \(0\)/);
    // queued messages keep their order: had the expired one been delivered, it would have come first
    assert.deepEqual(lines(back, topic), [`${topic} stays`], back.describe());
  });

  test('message expiry: delivered in time, the subscriber sees the (remaining) interval with -F %E', async () => {
    const topic = uniqueTopic('mq5/expiry-live');
    const s = await subscriber(['-t', topic, '-q', '1', '-C', '1', '-F', 'E=%E p=%p']);
    await pub(['-t', topic, '-q', '1', '-m', 'live', '-D', 'publish', 'message-expiry-interval', '120']);
    await s.waitExit(5000, 'mosquitto_sub -C 1');
    const line = s.stdoutLines.find((l) => l.startsWith('E='));
    assert.ok(line !== undefined, s.describe());
    const m = /^E=(\d+) p=live$/.exec(line);
    assert.ok(m, line);
    assert.ok(Number(m[1]) <= 120 && Number(m[1]) >= 119, `remaining interval ${m[1]}`);
  });

  test('request/response: response-topic and correlation-data reach a v5 subscriber unchanged (-F %R / %D)', async () => {
    const topic = uniqueTopic('mq5/request');
    const s = await subscriber(['-t', topic, '-q', '1', '-C', '1', '-F', 'R=%R|D=%D|p=%p']);
    await pub(['-t', topic, '-q', '1', '-m', 'ping', '-D', 'publish', 'response-topic', `${topic}/reply`, '-D', 'publish', 'correlation-data', 'corr-42']);
    await s.waitExit(5000, 'mosquitto_sub -C 1');
    assert.deepEqual(lines(s, 'R='), [`R=${topic}/reply|D=corr-42|p=ping`], s.describe());
  });

  test('user properties and content type reach a v5 subscriber in order, duplicates kept (-F %P / %C)', async () => {
    const topic = uniqueTopic('mq5/userprops');
    const s = await subscriber(['-t', topic, '-q', '1', '-C', '1', '-F', 'C=%C|P=%P']);
    await pub([
      '-t', topic, '-q', '1', '-m', 'x',
      '-D', 'publish', 'content-type', 'text/plain',
      '-D', 'publish', 'user-property', 'k', 'one',
      '-D', 'publish', 'user-property', 'z', 'last',
      '-D', 'publish', 'user-property', 'k', 'two',
    ]);
    await s.waitExit(5000, 'mosquitto_sub -C 1');
    const line = lines(s, 'C=')[0];
    assert.ok(line !== undefined, s.describe());
    assert.match(line, /^C=text\/plain\|P=/);
    const props = line.slice(line.indexOf('P=') + 2);
    const order = ['k:one', 'z:last', 'k:two'].map((p) => props.indexOf(p));
    assert.ok(order.every((i) => i >= 0), `all three user properties in ${props}`);
    assert.deepEqual([...order].sort((x, y) => x - y), order, `in the order sent: ${props}`);
  });

  test('a v5 message with properties reaches a 3.1.1 mosquitto_sub as a plain message', async () => {
    const topic = uniqueTopic('mq5/to311');
    const s = await subscriber(['-V', 'mqttv311', '-t', topic, '-q', '1', '-C', '1', '-v']);
    await pub(['-t', topic, '-q', '1', '-m', 'plain payload', '-D', 'publish', 'user-property', 'a', 'b', '-D', 'publish', 'content-type', 'text/plain']);
    await s.waitExit(5000, 'mosquitto_sub -C 1');
    assert.deepEqual(lines(s, topic), [`${topic} plain payload`]);
  });
});
