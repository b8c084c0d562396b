// acl_file parity: one ACL file, a table of cases, and for each case the outcome OBSERVED
// from a real mosquitto 2.0.11 process compared with a real Culex broker (createBroker with
// AclFile.load of the same file), both over TCP with MQTT.js, for MQTT 3.1.1 (protocol 4)
// and MQTT 5 (protocol 5). 3.1.1 shows only delivery and SUBACK codes; 5 adds the PUBACK
// reason code of a refused PUBLISH (0x87), so both are driven.
//
// - write case: the client publishes (QoS 1); a privileged client `admin` (readwrite # and
//   $SYS/#), subscribed to `#` and `$SYS/#`, sees it or not.
// - read case: the client subscribes (the SUBACK code is compared too: mosquitto grants every
//   subscription, checking `read` per message; Culex refuses a filter without wildcards that
//   the client may never read, the one intended difference), then `admin` publishes (or had published a
//   retained message before the SUBSCRIBE); the client receives it or not.
// No case waits for a timeout: after the publish, the observing client does an UNSUBSCRIBE
// round trip; both brokers write a delivery before the UNSUBACK of a later packet, so once
// the UNSUBACK is in, a message that has not arrived will not arrive.
// `expect` is what mosquitto's source says (src/security_default.c); the observed mosquitto
// outcome must agree with it (so a broken harness cannot pass with "nothing delivered"),
// and Culex must agree with the observation.
// A second table gives malformed and quirky files to both: mosquitto must start or refuse
// the acl_file exactly when AclFile.parse accepts or throws.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import mqtt, { type MqttClient, type Packet } from 'mqtt';
import { AclFile } from '../../src/adapters/authz/acl-file.js';
import { AllowAllAuthenticator } from '../../src/adapters/memory/allow-all.js';
import { createBroker, type CulexBroker } from '../../src/app/create-broker.js';
import { waitFor } from '../helpers/wait-for.js';
import { Child, removeDir, requireTool, tempDir } from './support.js';

const MOSQUITTO = '/usr/sbin/mosquitto';

const ACL = `# anonymous clients (no user name)
topic read public/#
topic write drop/anon
topic readwrite shared/anon/+

# for every client
pattern read clients/%c/in/#
pattern write clients/%c/out/#
pattern readwrite users/%u/#
pattern deny users/%u/locked/#

user alice
topic readwrite alice/#
topic deny alice/secret/#
topic read sensors/+/temp
topic write commands/#
topic read $SYS/broker/connection/+/state

user bob
topic read both/x
topic write both/x
topic readwrite $SYS/#
topic write

user carol
topic read #

user admin
topic readwrite #
topic readwrite $SYS/#
`;

interface Base {
  name: string;
  /** undefined: an anonymous client. */
  user?: string;
  clientId: string;
  topic: string;
  /** Allowed (written / delivered) according to mosquitto's source. */
  expect: boolean;
}
type Case = (Base & { kind: 'write' }) | (Base & { kind: 'read'; filter: string; retained?: boolean });

const w = (name: string, user: string | undefined, clientId: string, topic: string, expect: boolean): Case => ({
  kind: 'write',
  name,
  user,
  clientId,
  topic,
  expect,
});
const r = (name: string, user: string | undefined, clientId: string, filter: string, topic: string, expect: boolean, retained = false): Case => ({
  kind: 'read',
  name,
  user,
  clientId,
  filter,
  topic,
  expect,
  retained,
});

const CASES: Case[] = [
  // anonymous clients: the lines before the first `user`
  w('anonymous may not write a read-only topic', undefined, 'anon-1', 'public/news', false),
  r('anonymous reads a read topic', undefined, 'anon-1', 'public/#', 'public/news', true),
  w('anonymous writes a write-only topic', undefined, 'anon-1', 'drop/anon', true),
  r('anonymous may not read a write-only topic', undefined, 'anon-1', 'drop/anon', 'drop/anon', false),
  w('anonymous readwrite with + (one level)', undefined, 'anon-1', 'shared/anon/x', true),
  w('anonymous: + is one level only', undefined, 'anon-1', 'shared/anon/x/y', false),
  r('anonymous reads a retained message it may read', undefined, 'anon-1', 'public/#', 'public/retained', true, true),
  // patterns with %c
  w('%c: own client id', undefined, 'dev1', 'clients/dev1/out/t', true),
  w('%c: another client id', undefined, 'dev1', 'clients/dev2/out/t', false),
  r('%c: read own inbox', undefined, 'dev1', 'clients/dev1/in/#', 'clients/dev1/in/cmd', true),
  r('%c: wildcard subscription gets only own topics (other)', undefined, 'dev1', 'clients/+/in/#', 'clients/dev2/in/cmd', false),
  r('%c: wildcard subscription gets only own topics (own)', undefined, 'dev1', 'clients/+/in/#', 'clients/dev1/in/cmd', true),
  w('%c read pattern: no write', undefined, 'dev1', 'clients/dev1/in/cmd', false),
  w('client id "+" would widen %c: denied', undefined, '+', 'clients/victim/out/t', false),
  r('client id "+": own anonymous lines still apply', undefined, '+', 'public/#', 'public/news', true),
  // %u without a user name
  w('%u pattern is skipped for anonymous clients', undefined, 'anon-2', 'users//profile', false),
  // user alice
  w('user writes own readwrite topic', 'alice', 'alice-1', 'alice/notes', true),
  w('deny beats readwrite (write)', 'alice', 'alice-1', 'alice/secret/key', false),
  r('deny beats readwrite (read)', 'alice', 'alice-1', 'alice/#', 'alice/secret/key', false),
  r('user reads own topic through a wildcard subscription', 'alice', 'alice-1', 'alice/#', 'alice/x', true),
  r('read-only line with +', 'alice', 'alice-1', 'sensors/+/temp', 'sensors/s1/temp', true),
  w('read-only line: no write', 'alice', 'alice-1', 'sensors/s1/temp', false),
  w('write-only line', 'alice', 'alice-1', 'commands/door/open', true),
  r('write-only line: no read', 'alice', 'alice-1', 'commands/#', 'commands/door/open', false),
  r('subscription to # delivers a readable topic', 'alice', 'alice-1', '#', 'sensors/s2/temp', true),
  r('subscription to # withholds an unreadable topic', 'alice', 'alice-1', '#', 'drop/anon', false),
  w('a user does not get the anonymous lines (write)', 'alice', 'alice-1', 'drop/anon', false),
  r('a user does not get the anonymous lines (read)', 'alice', 'alice-1', 'public/#', 'public/news', false),
  r('a user does not get anonymous lines on retained messages', 'alice', 'alice-1', 'public/#', 'public/retained', false, true),
  w('%u: own user name', 'alice', 'alice-1', 'users/alice/profile', true),
  w('%u: another user name', 'alice', 'alice-1', 'users/bob/profile', false),
  w('deny pattern', 'alice', 'alice-1', 'users/alice/locked/x', false),
  r('$SYS read through an ACL topic starting with $SYS', 'alice', 'alice-1', '$SYS/broker/connection/+/state', '$SYS/broker/connection/br1/state', true),
  r('shared subscription: inner topic readable', 'alice', 'alice-1', '$share/g/alice/#', 'alice/shared', true),
  r('shared subscription: inner topic not readable', 'alice', 'alice-1', '$share/g/users/#', 'users/bob/x', false),
  // user bob: read and write lines for one topic; $SYS writes
  w('read line + write line = readwrite (write)', 'bob', 'bob-1', 'both/x', true),
  r('read line + write line = readwrite (read)', 'bob', 'bob-1', 'both/x', 'both/x', true),
  w('$SYS is never writable, whatever the ACL', 'bob', 'bob-1', '$SYS/broker/load', false),
  w('"topic write" alone is readwrite on the topic "write" (write)', 'bob', 'bob-1', 'write', true),
  r('"topic write" alone is readwrite on the topic "write" (read)', 'bob', 'bob-1', 'write', 'write', true),
  w('$SYS bridge state is writable when the ACL allows it', 'bob', 'bob-1', '$SYS/broker/connection/b1/state', true),
  // user carol: `read #`
  r('read # covers ordinary topics', 'carol', 'carol-1', '#', 'anything/at/all', true),
  r('read # does not cover $SYS', 'carol', 'carol-1', '$SYS/#', '$SYS/broker/connection/br1/state', false),
  // users without a block, or with a dangerous name
  w('unknown user: no anonymous lines', 'mallory', 'm-1', 'drop/anon', false),
  w('unknown user: patterns apply', 'mallory', 'm-1', 'users/mallory/x', true),
  r('user name "+" would widen %u: denied', '+', 'plus-1', 'users/#', 'users/alice/x', false),
];

interface Outcome {
  delivered: boolean;
  /** read: the SUBACK code; write on v5: the PUBACK reason code (0 for any success code). */
  code: number | undefined;
}

interface Target {
  name: string;
  port: number;
}

interface Conn {
  client: MqttClient;
  inbox: { topic: string; payload: string }[];
  packets: Packet[];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function requireMosquitto(): void {
  try {
    requireTool(MOSQUITTO);
  } catch {
    throw new Error(`${MOSQUITTO} not found: apt-get install mosquitto (the broker package, 2.0.11 on Debian 12)`);
  }
}

/**
 * Starts mosquitto with `aclPath` on a free port and waits until it runs or exits (a refused
 * acl_file makes it exit at once). `dir` gets the config and is made readable: a mosquitto
 * started as root drops to the `mosquitto` user, which must still read the files.
 */
async function startMosquitto(dir: string, aclPath: string): Promise<{ child: Child; port: number; running: boolean }> {
  chmodSync(dir, 0o755);
  const port = await freePort();
  const confPath = join(dir, 'mosquitto.conf');
  writeFileSync(confPath, `listener ${port} 127.0.0.1\nallow_anonymous true\nacl_file ${aclPath}\npersistence false\n`, { mode: 0o644 });
  const child = new Child(MOSQUITTO, ['-c', confPath, '-v']);
  let running = false;
  await waitFor(
    () => {
      running = /mosquitto version [\d.]+ running/.test(child.stdout + child.stderr);
      return running || child.exit !== undefined;
    },
    { timeoutMs: 10_000, message: () => `mosquitto to start or exit; ${child.describe()}` },
  );
  return { child, port, running };
}

async function stopMosquitto(child: Child): Promise<void> {
  child.kill('SIGTERM');
  await child.waitExit(5000, 'mosquitto to exit after SIGTERM').catch(() => child.kill('SIGKILL'));
}

async function connect(port: number, version: 4 | 5, user: string | undefined, clientId: string): Promise<Conn> {
  const client = mqtt.connect({
    host: '127.0.0.1',
    port,
    protocolVersion: version,
    clientId,
    ...(user === undefined ? {} : { username: user }),
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
  const conn: Conn = { client, inbox: [], packets: [] };
  client.on('message', (topic, payload) => conn.inbox.push({ topic, payload: payload.toString() }));
  client.on('packetreceive', (packet) => conn.packets.push(packet));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error(`connection of ${clientId} closed before CONNACK`)));
  });
  return conn;
}

/** Ends with UNSUBSCRIBE -> UNSUBACK: every delivery queued before it has arrived after it. */
async function barrier(conn: Conn): Promise<void> {
  await conn.client.unsubscribeAsync('parity/barrier/none');
}

function lastPacket<T extends Packet['cmd']>(conn: Conn, cmd: T): Extract<Packet, { cmd: T }> | undefined {
  for (let i = conn.packets.length - 1; i >= 0; i--) {
    const p = conn.packets[i] as Packet;
    if (p.cmd === cmd) return p as Extract<Packet, { cmd: T }>;
  }
  return undefined;
}

let sequence = 0;

async function observe(target: Target, admin: Conn, version: 4 | 5, c: Case): Promise<Outcome> {
  const payload = `${target.name}-v${version}-${++sequence}`;
  const actor = await connect(target.port, version, c.user, c.clientId);
  try {
    if (c.kind === 'write') {
      // a refused v5 PUBLISH rejects with its reason code; the PUBACK packet is read below
      await actor.client.publishAsync(c.topic, payload, { qos: 1 }).catch(() => undefined);
      const puback = lastPacket(actor, 'puback');
      assert.ok(puback !== undefined, `${target.name}: no PUBACK`);
      await barrier(admin);
      const delivered = admin.inbox.some((m) => m.topic === c.topic && m.payload === payload);
      const rc = puback.reasonCode;
      return { delivered, code: version === 5 ? (rc !== undefined && rc >= 0x80 ? rc : 0) : undefined };
    }
    if (c.retained === true) await admin.client.publishAsync(c.topic, payload, { qos: 1, retain: true });
    await actor.client.subscribeAsync(c.filter, { qos: 1 }).catch(() => undefined);
    const suback = lastPacket(actor, 'suback');
    assert.ok(suback !== undefined, `${target.name}: no SUBACK`);
    if (c.retained !== true) await admin.client.publishAsync(c.topic, payload, { qos: 1 });
    await barrier(actor);
    const delivered = actor.inbox.some((m) => m.topic === c.topic && m.payload === payload);
    if (c.retained === true) await admin.client.publishAsync(c.topic, '', { qos: 1, retain: true });
    return { delivered, code: suback.granted[0] as number };
  } finally {
    await actor.client.endAsync();
  }
}

function describeCase(c: Case): string {
  const who = c.user === undefined ? `anonymous (${c.clientId})` : `${c.user} (${c.clientId})`;
  return c.kind === 'write' ? `${who} publishes ${c.topic}` : `${who} subscribes ${c.filter}, gets ${c.topic}${c.retained === true ? ' (retained)' : ''}`;
}

describe('acl_file parity with mosquitto 2.0.11', () => {
  let dir = '';
  let mosquitto: Child | undefined;
  let culex: CulexBroker | undefined;
  const targets: Target[] = [];
  const admins = new Map<string, Conn>();

  before(async () => {
    requireMosquitto();
    dir = tempDir('culex-acl-parity-');
    const aclPath = join(dir, 'acl');
    writeFileSync(aclPath, ACL, { mode: 0o644 });
    const started = await startMosquitto(dir, aclPath);
    mosquitto = started.child;
    assert.equal(started.running, true, `mosquitto refused the parity ACL: ${started.child.describe()}`);
    assert.match(started.child.stdout + started.child.stderr, /mosquitto version 2\.0\.11 /, 'the parity table is for mosquitto 2.0.11');
    const port = started.port;
    targets.push({ name: 'mosquitto', port });

    culex = createBroker({ sysInterval: 0, authenticator: new AllowAllAuthenticator(), authorizer: await AclFile.load(aclPath) });
    const address = await culex.listen(0, '127.0.0.1');
    targets.push({ name: 'culex', port: address.port });
  });

  after(async () => {
    await Promise.all([...admins.values()].map((a) => a.client.endAsync(true)));
    await culex?.close();
    if (mosquitto !== undefined) await stopMosquitto(mosquitto);
    if (dir !== '') removeDir(dir);
  });

  async function adminFor(target: Target, version: 4 | 5): Promise<Conn> {
    const key = `${target.name}-${version}`;
    let admin = admins.get(key);
    if (admin === undefined) {
      admin = await connect(target.port, version, 'admin', `admin-${key}`);
      await admin.client.subscribeAsync(['#', '$SYS/#'], { qos: 1 });
      admins.set(key, admin);
    }
    return admin;
  }

  test('the table has at least 30 cases, allowed and refused, of every kind', () => {
    assert.ok(CASES.length >= 30, `${CASES.length} cases`);
    for (const kind of ['write', 'read'] as const) {
      for (const expect of [true, false]) {
        assert.ok(CASES.some((c) => c.kind === kind && c.expect === expect), `${kind} ${expect}`);
      }
    }
    assert.ok(CASES.some((c) => c.user === undefined) && CASES.some((c) => c.user !== undefined));
  });

  for (const version of [4, 5] as const) {
    for (const c of CASES) {
      test(`v${version === 4 ? '3.1.1' : '5'}: ${c.name}: ${describeCase(c)}`, async () => {
        const [mosq, ours] = targets as [Target, Target];
        const observed = await observe(mosq, await adminFor(mosq, version), version, c);
        assert.equal(observed.delivered, c.expect, `mosquitto itself: expected ${c.expect ? 'allowed' : 'refused'}, observed ${JSON.stringify(observed)}`);
        const culexOutcome = await observe(ours, await adminFor(ours, version), version, c);
        // the one intended difference: a filter without wildcards the client may never read
        // is refused in the SUBACK by Culex (mosquitto grants it and delivers nothing)
        const refusedExact = c.kind === 'read' && !/[+#]/.test(c.filter) && !observed.delivered;
        const expected = refusedExact ? { ...observed, code: version === 5 ? 0x87 : 0x80 } : observed;
        assert.deepEqual(culexOutcome, expected, 'Culex differs from the observed mosquitto outcome');
      });
    }
  }
});

// Which files mosquitto accepts: each text is given to a real mosquitto (does it start, or
// refuse the acl_file?) and to AclFile.parse (does it throw?). The quirks are mosquitto's:
// an indented comment or a tab is an error, `topic read` alone is a rule for the topic "read".
const FILES: [string, string][] = [
  ['comments, blank lines, CRLF, leading and repeated spaces', '# c\n\n   \r\n  topic   read  a/#  \r\nuser bob\r\ntopic b\n'],
  ['an indented comment', 'topic a\n  # indented\n'],
  ['a tab before the keyword', '\ttopic read a\n'],
  ['a tab after the keyword', 'topic\tread a\n'],
  ['one word after topic (the topic "read")', 'topic read\n'],
  ['a tab inside the access word', 'topic read\ta\n'],
  ['topic alone', 'topic\n'],
  ['an unknown access', 'topic rw a\n'],
  ['a trailing comment', 'topic read a # note\n'],
  ['user alone', 'user\n'],
  ['a user name with spaces and #', 'user bob # x\ntopic a\n'],
  ['a capitalised keyword', 'Topic read a\n'],
  ['+ not alone in its level', 'topic read a/+b\n'],
  ['# not last', 'pattern read a/#/%c\n'],
  ['a pattern without %c or %u (a warning only)', 'pattern read plain/#\n'],
  ['an empty file', ''],
  ['200 "/" (the most)', `topic read ${'a/'.repeat(200)}a\n`],
  ['201 "/"', `topic read ${'a/'.repeat(201)}a\n`],
];

describe('acl_file parity with mosquitto 2.0.11: which files are accepted', () => {
  let dir = '';
  before(() => {
    requireMosquitto();
    dir = tempDir('culex-acl-files-');
  });
  after(() => {
    if (dir !== '') removeDir(dir);
  });

  FILES.forEach(([name, text], i) => {
    test(`${name}: accepted by both or refused by both`, async () => {
      const aclPath = join(dir, `acl-${i}`);
      writeFileSync(aclPath, text, { mode: 0o644 });
      const started = await startMosquitto(dir, aclPath);
      await stopMosquitto(started.child);
      if (!started.running) assert.match(started.child.stdout + started.child.stderr, /acl_file|acl file/, started.child.describe());
      let culexError: unknown;
      try {
        AclFile.parse(text, aclPath);
      } catch (err) {
        culexError = err;
      }
      assert.equal(culexError === undefined, started.running, `mosquitto ${started.running ? 'accepted' : 'refused'} it; Culex: ${String(culexError ?? 'accepted')}`);
    });
  });
});
