// Conformance: MQTT 5 enhanced authentication (sections 4.12, 4.12.1, 3.15) with
// SCRAM-SHA-256 and two toy methods that exercise the pluggable interface (asynchronous
// steps, a method that throws). The client side of SCRAM runs here, by hand, packet by packet.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ScramSha256Client } from '../../src/adapters/auth/scram-sha256-client.test-support.js';
import { MemoryScramCredentialStore, SCRAM_SHA_256, ScramSha256, scramCredentials } from '../../src/adapters/auth/scram-sha256.js';
import type { AuthMethod, AuthStep, Authorizer, AuthzVerdict, ClientIdentity } from '../../src/core/ports.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import {
  PacketType,
  type AuthPacket,
  type ConnackPacket,
  type ConnectPacket,
  type DisconnectPacket,
  type Packet,
  type Properties,
} from '../../src/protocol/types.js';
import type { TestClient } from '../helpers/mqtt-test-client.js';
import { uniqueId, withBroker } from './lifecycle-support.js';

const store = new MemoryScramCredentialStore()
  .set('user', scramCredentials('pencil'))
  .set('other', scramCredentials('other-pw'));

/** Two round trips, every answer a promise: "hello" -> "challenge", "answer" -> "welcome". */
const asyncMethod: AuthMethod = {
  name: 'X-ASYNC',
  start: () => {
    let round = 0;
    return {
      step: async (data) => {
        round++;
        await new Promise((resolve) => setImmediate(resolve));
        const got = data?.toString();
        if (round === 1 && got === 'hello') return { kind: 'continue', data: Buffer.from('challenge') } satisfies AuthStep;
        if (round === 2 && got === 'answer') return { kind: 'success', data: Buffer.from('welcome'), identity: 'async-user' } satisfies AuthStep;
        return { kind: 'failure', reasonCode: ReasonCode.BAD_USER_NAME_OR_PASSWORD } satisfies AuthStep;
      },
    };
  },
};

/** A method whose first step answers only when the test opens the gate. */
function gatedMethod(): { method: AuthMethod; open: () => void } {
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const method: AuthMethod = {
    name: 'X-GATED',
    start: () => ({ step: async () => gate.then(() => ({ kind: 'continue' }) satisfies AuthStep) }),
  };
  return { method, open: () => open() };
}

const throwingMethod: AuthMethod = {
  name: 'X-THROWS',
  start: () => {
    throw new Error('method broken');
  },
};

/** Records the identity authorization sees. */
class RecordingAuthorizer implements Authorizer {
  readonly identities: (string | undefined)[] = [];
  canPublish(): AuthzVerdict {
    return 'allow';
  }
  canSubscribe(client: ClientIdentity): AuthzVerdict {
    this.identities.push(client.identity);
    return 'allow';
  }
}

const options = () => ({ authMethods: [new ScramSha256({ store }), asyncMethod, throwingMethod] });

function connect5(clientId: string, properties?: Properties, fields: Partial<ConnectPacket> = {}): ConnectPacket {
  return {
    type: PacketType.CONNECT,
    protocolName: 'MQTT',
    protocolVersion: 5,
    cleanStart: true,
    keepAlive: 0,
    clientId,
    ...(properties !== undefined ? { properties } : {}),
    ...fields,
  };
}

function scramProps(data: string): Properties {
  return { authenticationMethod: SCRAM_SHA_256, authenticationData: Buffer.from(data) };
}

function authData(p: AuthPacket | ConnackPacket): string {
  return p.properties?.authenticationData?.toString() ?? '';
}

/** CONNECT with SCRAM client-first, AUTH 0x18 round, CONNACK. Returns the CONNACK. */
async function scramConnect(c: TestClient, clientId: string, scram: ScramSha256Client, fields: Partial<ConnectPacket> = {}): Promise<ConnackPacket> {
  c.send(connect5(clientId, scramProps(scram.clientFirst()), fields));
  const challenge = await c.nextOfType<AuthPacket>(PacketType.AUTH);
  assert.equal(challenge.reasonCode, ReasonCode.CONTINUE_AUTHENTICATION);
  assert.equal(challenge.properties?.authenticationMethod, SCRAM_SHA_256);
  c.send({ type: PacketType.AUTH, reasonCode: ReasonCode.CONTINUE_AUTHENTICATION, properties: scramProps(scram.clientFinal(authData(challenge))) });
  return c.nextOfType<ConnackPacket>(PacketType.CONNACK);
}

/** A connected SCRAM client ("user"/"pencil"). */
async function connectedScram(fx: { client(o: { version: 5 }): TestClient }, clientId: string): Promise<TestClient> {
  const c = fx.client({ version: 5 });
  const connack = await scramConnect(c, clientId, new ScramSha256Client('user', 'pencil'));
  assert.equal(connack.reasonCode, ReasonCode.SUCCESS);
  return c;
}

/** AUTH 0x19 with client-first, AUTH 0x18 round; returns the server's final AUTH (or throws if closed). */
async function reauth(c: TestClient, scram: ScramSha256Client): Promise<AuthPacket> {
  c.send({ type: PacketType.AUTH, reasonCode: ReasonCode.RE_AUTHENTICATE, properties: scramProps(scram.clientFirst()) });
  const challenge = await c.nextOfType<AuthPacket>(PacketType.AUTH);
  assert.equal(challenge.reasonCode, ReasonCode.CONTINUE_AUTHENTICATION);
  c.send({ type: PacketType.AUTH, reasonCode: ReasonCode.CONTINUE_AUTHENTICATION, properties: scramProps(scram.clientFinal(authData(challenge))) });
  return c.nextOfType<AuthPacket>(PacketType.AUTH);
}

async function assertWorks(c: TestClient): Promise<void> {
  const topic = `works/${uniqueId('t')}`;
  await c.subscribe(topic, 1);
  await c.publish(topic, 'ping', 1);
  assert.equal((await c.nextPublish()).payload.toString(), 'ping');
}

describe('enhanced authentication: the CONNECT exchange [MQTT-4.12]', () => {
  test('[MQTT-4.12.0-2] [MQTT-4.12.0-5] SCRAM-SHA-256: AUTH 0x18 with server-first, CONNACK 0x00 with the method and a server-final the client verifies', () => {
    const authorizer = new RecordingAuthorizer();
    return withBroker({ ...options(), authorizer }, async (fx) => {
      const c = fx.client({ version: 5 });
      const scram = new ScramSha256Client('user', 'pencil');
      const connack = await scramConnect(c, uniqueId('scram'), scram);
      assert.equal(connack.reasonCode, ReasonCode.SUCCESS);
      assert.equal(connack.properties?.authenticationMethod, SCRAM_SHA_256);
      assert.ok(scram.verifyServerFinal(authData(connack)), `server-final ${authData(connack)} must carry the server signature`);
      await assertWorks(c);
      assert.deepEqual(authorizer.identities, ['user'], 'authorization sees the SCRAM identity');
    });
  });

  test('[MQTT-4.12.0-4] a wrong password gets CONNACK 0x86 and the connection is closed', () =>
    withBroker(options(), async (fx, closes) => {
      const c = fx.client({ version: 5 });
      const id = uniqueId('wrong');
      const connack = await scramConnect(c, id, new ScramSha256Client('user', 'not-the-password'));
      assert.equal(connack.reasonCode, ReasonCode.BAD_USER_NAME_OR_PASSWORD);
      await c.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'bad_credentials');
    }));

  test('[MQTT-4.12.0-4] an unknown SCRAM user gets the same answers as a wrong password', () =>
    withBroker(options(), async (fx) => {
      const c = fx.client({ version: 5 });
      const connack = await scramConnect(c, uniqueId('nobody'), new ScramSha256Client('nobody', 'pencil'));
      assert.equal(connack.reasonCode, ReasonCode.BAD_USER_NAME_OR_PASSWORD);
      await c.closedWithin();
    }));

  test('[MQTT-4.12.0-1] an unsupported Authentication Method gets CONNACK 0x8C and the connection is closed', async () => {
    for (const opts of [options(), {}]) {
      await withBroker(opts, async (fx, closes) => {
        const c = fx.client({ version: 5 });
        const id = uniqueId('method');
        c.send(connect5(id, { authenticationMethod: 'SCRAM-SHA-1', authenticationData: Buffer.from('n,,n=user,r=x') }));
        const connack = await c.nextOfType<ConnackPacket>(PacketType.CONNACK);
        assert.equal(connack.reasonCode, ReasonCode.BAD_AUTHENTICATION_METHOD);
        await c.closedWithin();
        assert.equal((await closes.closeOf(id)).reason, 'bad_authentication_method');
        assert.equal(c.received.filter((p) => p.type === PacketType.AUTH).length, 0);
      });
    }
  });

  test('[MQTT-4.12.0-6] a client without an Authentication Method gets no AUTH and no method in CONNACK', () =>
    withBroker(options(), async (fx) => {
      const c = fx.client({ version: 5 });
      const connack = await c.connect({ clientId: uniqueId('plain') });
      assert.equal(connack.reasonCode, ReasonCode.SUCCESS);
      assert.equal(connack.properties?.authenticationMethod, undefined);
      assert.equal(connack.properties?.authenticationData, undefined);
      await c.barrier();
      assert.equal(c.received.filter((p) => p.type === PacketType.AUTH).length, 0);
    }));

  const early: [string, Packet][] = [
    ['PUBLISH', { type: PacketType.PUBLISH, topic: 'a/b', payload: Buffer.from('x'), qos: 0, retain: false, dup: false }],
    ['PINGREQ', { type: PacketType.PINGREQ }],
    ['SUBSCRIBE', { type: PacketType.SUBSCRIBE, packetId: 1, subscriptions: [{ topicFilter: 'a', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] }],
  ];
  for (const [name, packet] of early) {
    test(`[MQTT-3.1.2-30] a ${name} during the exchange is a protocol error: no CONNACK, connection closed`, () =>
      withBroker(options(), async (fx, closes) => {
        const c = fx.client({ version: 5 });
        const id = uniqueId('early');
        c.send(connect5(id, scramProps(new ScramSha256Client('user', 'pencil').clientFirst())));
        await c.nextOfType(PacketType.AUTH);
        c.send(packet);
        await c.closedWithin();
        assert.equal((await closes.closeOf(id)).reason, 'protocol_error');
        assert.equal(c.received.filter((p) => p.type === PacketType.CONNACK || p.type === PacketType.PINGRESP).length, 0);
      }));
  }

  test('[MQTT-4.12.0-5] an AUTH naming another method during the exchange is a protocol error', () =>
    withBroker(options(), async (fx, closes) => {
      const c = fx.client({ version: 5 });
      const id = uniqueId('switch');
      const scram = new ScramSha256Client('user', 'pencil');
      c.send(connect5(id, scramProps(scram.clientFirst())));
      const challenge = await c.nextOfType<AuthPacket>(PacketType.AUTH);
      c.send({
        type: PacketType.AUTH,
        reasonCode: ReasonCode.CONTINUE_AUTHENTICATION,
        properties: { authenticationMethod: 'X-ASYNC', authenticationData: Buffer.from(scram.clientFinal(authData(challenge))) },
      });
      await c.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'protocol_error');
      assert.equal(c.received.filter((p) => p.type === PacketType.CONNACK).length, 0);
    }));

  test('[MQTT-4.12.0-3] AUTH 0x19 before CONNACK, or AUTH 0x18 while the server has not asked, is a protocol error', async () => {
    await withBroker(options(), async (fx, closes) => {
      const c = fx.client({ version: 5 });
      const id = uniqueId('reauth-early');
      c.send(connect5(id, scramProps(new ScramSha256Client('user', 'pencil').clientFirst())));
      await c.nextOfType(PacketType.AUTH);
      c.send({ type: PacketType.AUTH, reasonCode: ReasonCode.RE_AUTHENTICATE, properties: scramProps('n,,n=user,r=abc') });
      await c.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'protocol_error');
    });
    const gated = gatedMethod();
    await withBroker({ authMethods: [gated.method] }, async (fx, closes) => {
      // the method has not answered the CONNECT yet when the client pushes on
      const c = fx.client({ version: 5 });
      const id = uniqueId('unprompted');
      c.send(connect5(id, { authenticationMethod: 'X-GATED' }));
      c.send({ type: PacketType.AUTH, reasonCode: ReasonCode.CONTINUE_AUTHENTICATION, properties: { authenticationMethod: 'X-GATED' } });
      await c.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'protocol_error');
      gated.open();
      assert.equal(c.received.filter((p) => p.type === PacketType.CONNACK || p.type === PacketType.AUTH).length, 0);
    });
  });

  test('a DISCONNECT during the exchange ends it cleanly', () =>
    withBroker(options(), async (fx, closes) => {
      const c = fx.client({ version: 5 });
      const id = uniqueId('quit');
      c.send(connect5(id, scramProps(new ScramSha256Client('user', 'pencil').clientFirst())));
      await c.nextOfType(PacketType.AUTH);
      c.send({ type: PacketType.DISCONNECT, reasonCode: 0 });
      await c.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'client_disconnect');
    }));

  test('the connect timeout covers an exchange the client abandons', () =>
    withBroker({ ...options(), connectTimeout: 0.2 }, async (fx, closes) => {
      const c = fx.client({ version: 5 });
      const id = uniqueId('abandon');
      c.send(connect5(id, scramProps(new ScramSha256Client('user', 'pencil').clientFirst())));
      await c.nextOfType(PacketType.AUTH);
      await c.closedWithin(3000);
      assert.equal((await closes.closeOf(id)).reason, 'connect_timeout');
    }));

  test('a pluggable asynchronous method: two AUTH rounds, its identity and its final data in CONNACK', () => {
    const authorizer = new RecordingAuthorizer();
    return withBroker({ ...options(), authorizer }, async (fx) => {
      const c = fx.client({ version: 5 });
      c.send(connect5(uniqueId('async'), { authenticationMethod: 'X-ASYNC', authenticationData: Buffer.from('hello') }));
      const challenge = await c.nextOfType<AuthPacket>(PacketType.AUTH);
      assert.deepEqual([challenge.reasonCode, challenge.properties?.authenticationMethod, authData(challenge)], [0x18, 'X-ASYNC', 'challenge']);
      c.send({ type: PacketType.AUTH, reasonCode: 0x18, properties: { authenticationMethod: 'X-ASYNC', authenticationData: Buffer.from('answer') } });
      const connack = await c.nextOfType<ConnackPacket>(PacketType.CONNACK);
      assert.deepEqual([connack.reasonCode, connack.properties?.authenticationMethod, authData(connack)], [0, 'X-ASYNC', 'welcome']);
      await assertWorks(c);
      assert.deepEqual(authorizer.identities, ['async-user']);
    });
  });

  test('a method that throws: CONNACK 0x88 (Server unavailable), connection closed', () =>
    withBroker(options(), async (fx, closes) => {
      const c = fx.client({ version: 5 });
      const id = uniqueId('throws');
      c.send(connect5(id, { authenticationMethod: 'X-THROWS' }));
      const connack = await c.nextOfType<ConnackPacket>(PacketType.CONNACK);
      assert.equal(connack.reasonCode, ReasonCode.SERVER_UNAVAILABLE);
      await c.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'server_unavailable');
    }));
});

describe('enhanced authentication: AUTH outside an exchange [MQTT-3.15]', () => {
  test('[MQTT-4.12.0-7] AUTH from a client that connected without a method: DISCONNECT 0x82', () =>
    withBroker(options(), async (fx, closes) => {
      const c = fx.client({ version: 5 });
      const id = uniqueId('noauth');
      await c.connect({ clientId: id });
      c.send({ type: PacketType.AUTH, reasonCode: ReasonCode.RE_AUTHENTICATE, properties: scramProps('n,,n=user,r=abc') });
      const disconnect = await c.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
      assert.equal(disconnect.reasonCode, ReasonCode.PROTOCOL_ERROR);
      await c.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'protocol_error');
    }));

  test('[MQTT-3.15.2-1] a client AUTH 0x00, or 0x18 with no exchange under way, or without a method: DISCONNECT 0x82', async () => {
    const bad: AuthPacket[] = [
      { type: PacketType.AUTH, reasonCode: ReasonCode.SUCCESS, properties: { authenticationMethod: SCRAM_SHA_256 } },
      { type: PacketType.AUTH, reasonCode: ReasonCode.CONTINUE_AUTHENTICATION, properties: scramProps('c=biws,r=x,p=AAAA') },
      { type: PacketType.AUTH, reasonCode: ReasonCode.RE_AUTHENTICATE },
    ];
    for (const packet of bad) {
      await withBroker(options(), async (fx) => {
        const c = await connectedScram(fx, uniqueId('stray'));
        c.send(packet);
        const disconnect = await c.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
        assert.equal(disconnect.reasonCode, ReasonCode.PROTOCOL_ERROR, JSON.stringify(packet));
        await c.closedWithin();
      });
    }
  });
});

describe('enhanced authentication: re-authentication [MQTT-4.12.1]', () => {
  test('[MQTT-4.12.1-1] AUTH 0x19 -> AUTH 0x18 -> AUTH 0x00 with a verified server-final; messages keep flowing meanwhile', () =>
    withBroker(options(), async (fx) => {
      const c = await connectedScram(fx, uniqueId('reauth'));
      const topic = `during/${uniqueId('t')}`;
      await c.subscribe(topic, 1);
      const scram = new ScramSha256Client('user', 'pencil');
      c.send({ type: PacketType.AUTH, reasonCode: ReasonCode.RE_AUTHENTICATE, properties: scramProps(scram.clientFirst()) });
      const challenge = await c.nextOfType<AuthPacket>(PacketType.AUTH);
      assert.equal(challenge.reasonCode, ReasonCode.CONTINUE_AUTHENTICATION);
      // "the flow of other packets can continue using the previous authentication" (4.12.1)
      await c.publish(topic, 'mid-reauth', 1);
      assert.equal((await c.nextPublish()).payload.toString(), 'mid-reauth');
      c.send({ type: PacketType.AUTH, reasonCode: ReasonCode.CONTINUE_AUTHENTICATION, properties: scramProps(scram.clientFinal(authData(challenge))) });
      const done = await c.nextOfType<AuthPacket>(PacketType.AUTH);
      assert.equal(done.reasonCode, ReasonCode.SUCCESS);
      assert.equal(done.properties?.authenticationMethod, SCRAM_SHA_256);
      assert.ok(scram.verifyServerFinal(authData(done)));
      await assertWorks(c);
      // and again: re-authentication can be repeated
      assert.equal((await reauth(c, new ScramSha256Client('user', 'pencil'))).reasonCode, ReasonCode.SUCCESS);
    }));

  test('[MQTT-4.12.1-2] a failed re-authentication: DISCONNECT 0x87 and the connection is closed', () =>
    withBroker(options(), async (fx, closes) => {
      const id = uniqueId('reauth-fail');
      const c = await connectedScram(fx, id);
      const scram = new ScramSha256Client('user', 'wrong');
      c.send({ type: PacketType.AUTH, reasonCode: ReasonCode.RE_AUTHENTICATE, properties: scramProps(scram.clientFirst()) });
      const challenge = await c.nextOfType<AuthPacket>(PacketType.AUTH);
      c.send({ type: PacketType.AUTH, reasonCode: ReasonCode.CONTINUE_AUTHENTICATION, properties: scramProps(scram.clientFinal(authData(challenge))) });
      const disconnect = await c.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
      assert.equal(disconnect.reasonCode, ReasonCode.NOT_AUTHORIZED);
      await c.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'not_authorized');
    }));

  test('[MQTT-4.12.1-2] re-authenticating as another user: DISCONNECT 0x87', () =>
    withBroker(options(), async (fx) => {
      const c = await connectedScram(fx, uniqueId('reauth-other'));
      const scram = new ScramSha256Client('other', 'other-pw');
      c.send({ type: PacketType.AUTH, reasonCode: ReasonCode.RE_AUTHENTICATE, properties: scramProps(scram.clientFirst()) });
      const challenge = await c.nextOfType<AuthPacket>(PacketType.AUTH);
      c.send({ type: PacketType.AUTH, reasonCode: ReasonCode.CONTINUE_AUTHENTICATION, properties: scramProps(scram.clientFinal(authData(challenge))) });
      assert.equal((await c.nextOfType<DisconnectPacket>(PacketType.DISCONNECT)).reasonCode, ReasonCode.NOT_AUTHORIZED);
      await c.closedWithin();
    }));

  // 0x8C (Bad authentication method) is not a DISCONNECT reason code: a Protocol Error it is
  test('[MQTT-4.12.1-1] re-authentication with another method: DISCONNECT 0x82', () =>
    withBroker(options(), async (fx, closes) => {
      const id = uniqueId('reauth-method');
      const c = await connectedScram(fx, id);
      c.send({ type: PacketType.AUTH, reasonCode: ReasonCode.RE_AUTHENTICATE, properties: { authenticationMethod: 'X-ASYNC', authenticationData: Buffer.from('hello') } });
      assert.equal((await c.nextOfType<DisconnectPacket>(PacketType.DISCONNECT)).reasonCode, ReasonCode.PROTOCOL_ERROR);
      await c.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'protocol_error');
    }));

  test('a second AUTH 0x19 while a re-authentication is under way: DISCONNECT 0x82', () =>
    withBroker(options(), async (fx) => {
      const c = await connectedScram(fx, uniqueId('reauth-twice'));
      const scram = new ScramSha256Client('user', 'pencil');
      c.send({ type: PacketType.AUTH, reasonCode: ReasonCode.RE_AUTHENTICATE, properties: scramProps(scram.clientFirst()) });
      await c.nextOfType<AuthPacket>(PacketType.AUTH);
      c.send({ type: PacketType.AUTH, reasonCode: ReasonCode.RE_AUTHENTICATE, properties: scramProps(scram.clientFirst()) });
      assert.equal((await c.nextOfType<DisconnectPacket>(PacketType.DISCONNECT)).reasonCode, ReasonCode.PROTOCOL_ERROR);
      await c.closedWithin();
    }));
});
