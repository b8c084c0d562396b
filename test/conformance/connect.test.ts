// Conformance: CONNECT and CONNACK (MQTT 3.1.1 sections 3.1, 3.2; MQTT 3.1 where it
// differs; 5.0 for the codes and properties the broker already sends).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnackReturnCode, ReasonCode } from '../../src/protocol/reason-codes.js';
import { PacketType, type ConnackPacket, type ConnectPacket, type DisconnectPacket, type Packet } from '../../src/protocol/types.js';
import type { AuthResult, Authenticator, ConnectInfo } from '../../src/core/ports.js';
import { encodePacket } from '../../src/protocol/index.js';
import type { TestClient } from '../helpers/mqtt-test-client.js';
import { waitFor } from '../helpers/wait-for.js';
import { rawConnect, uniqueId, withBroker } from './lifecycle-support.js';

const types = (packets: readonly Packet[]): number[] => packets.map((p) => p.type);

/** Proves a connection is fully usable: a QoS 1 message to itself comes back. */
async function assertWorks(client: TestClient): Promise<void> {
  const topic = `works/${uniqueId('t')}`;
  const suback = await client.subscribe(topic, 1);
  assert.deepEqual(suback.reasonCodes, [1]);
  await client.publish(topic, 'ping', 1);
  const msg = await client.nextPublish();
  assert.equal(msg.topic, topic);
  assert.equal(msg.payload.toString(), 'ping');
}

/** An authenticator whose answers the test gives later, one per CONNECT. */
class GatedAuthenticator implements Authenticator {
  readonly calls: ConnectInfo[] = [];
  readonly #pending: { resolve: (r: AuthResult) => void; reject: (e: Error) => void }[] = [];

  authenticate(info: ConnectInfo): Promise<AuthResult> {
    this.calls.push(info);
    return new Promise((resolve, reject) => this.#pending.push({ resolve, reject }));
  }

  async answer(result: AuthResult | Error): Promise<void> {
    await waitFor(() => this.#pending.length > 0, { message: 'an authenticate() call' });
    const next = this.#pending.shift() as { resolve: (r: AuthResult) => void; reject: (e: Error) => void };
    if (result instanceof Error) next.reject(result);
    else next.resolve(result);
  }
}

function connectPacket(fields: Partial<ConnectPacket> = {}): ConnectPacket {
  return { type: PacketType.CONNECT, protocolName: 'MQTT', protocolVersion: 4, cleanStart: true, keepAlive: 0, clientId: uniqueId('c'), ...fields };
}

describe('CONNECT: first packet and second CONNECT', () => {
  test('[MQTT-3.1.0-1] a PINGREQ before CONNECT closes the connection without an answer', () =>
    withBroker({}, async (fx, closes) => {
      const c = fx.client();
      c.send({ type: PacketType.PINGREQ });
      await c.closedWithin();
      assert.deepEqual(c.received, []);
      assert.equal((await closes.closeOf(undefined)).reason, 'protocol_error');
    }));

  test('[MQTT-3.1.0-1] a PUBLISH before CONNECT closes the connection and is not routed', () =>
    withBroker({}, async (fx, closes) => {
      const watcher = fx.client();
      await watcher.connect();
      await watcher.subscribe('early/#', 0);
      const c = fx.client();
      c.send({ type: PacketType.PUBLISH, topic: 'early/x', payload: Buffer.from('no'), qos: 0, retain: false, dup: false });
      await c.closedWithin();
      assert.equal((await closes.closeOf(undefined)).reason, 'protocol_error');
      await watcher.barrier();
      assert.equal(watcher.received.filter((p) => p.type === PacketType.PUBLISH).length, 0);
    }));

  test('[MQTT-3.1.0-2] a second CONNECT is a protocol violation: the connection is closed', () =>
    withBroker({}, async (fx, closes) => {
      const c = fx.client();
      const id = uniqueId('twice');
      assert.equal((await c.connect({ clientId: id })).reasonCode, 0);
      c.send(connectPacket({ clientId: id }));
      await c.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'protocol_error');
      assert.equal(c.received.filter((p) => p.type === PacketType.CONNACK).length, 1, 'no second CONNACK');
    }));

  test('[MQTT-3.1.0-2] v5: a second CONNECT gets DISCONNECT 0x82 (Protocol Error), then the close', () =>
    withBroker({}, async (fx) => {
      const c = fx.client({ version: 5 });
      const id = uniqueId('twice5');
      await c.connect({ clientId: id });
      c.send(connectPacket({ clientId: id, protocolVersion: 5 }));
      const disconnect = await c.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
      assert.equal(disconnect.reasonCode, ReasonCode.PROTOCOL_ERROR);
      await c.closedWithin();
    }));
});

describe('CONNECT: protocol name and level', () => {
  for (const level of [0, 2, 6, 7, 255]) {
    test(`[MQTT-3.1.2-2] protocol level ${level} gets CONNACK 0x01, then the connection is closed`, () =>
      withBroker({}, async (fx, closes) => {
        const c = fx.client();
        c.sendRaw(rawConnect({ level }));
        const connack = await c.nextOfType<ConnackPacket>(PacketType.CONNACK);
        assert.equal(connack.reasonCode, ConnackReturnCode.UNACCEPTABLE_PROTOCOL_VERSION);
        assert.equal(connack.sessionPresent, false, '[MQTT-3.2.2-4] session present 0 on a refusal');
        await c.closedWithin();
        assert.deepEqual(types(c.received), [PacketType.CONNACK]);
        assert.equal((await closes.closeOf(undefined)).reason, 'unsupported_protocol_version');
      }));
  }

  test('v5 level with a wrong protocol name gets CONNACK 0x84 (Unsupported Protocol Version), then the close', () =>
    withBroker({}, async (fx) => {
      const c = fx.client({ version: 5 });
      c.sendRaw(rawConnect({ protocolName: 'MQIsdp', level: 5, v5Properties: true }));
      const connack = await c.nextOfType<ConnackPacket>(PacketType.CONNACK);
      assert.equal(connack.reasonCode, ReasonCode.UNSUPPORTED_PROTOCOL_VERSION);
      await c.closedWithin();
    }));

  test('[MQTT-3.1.2-1] level 4 with the name "MQIsdp" is not accepted', () =>
    withBroker({}, async (fx) => {
      const c = fx.client();
      c.sendRaw(rawConnect({ protocolName: 'MQIsdp', level: 4 }));
      await c.closedWithin();
      for (const p of c.received) {
        assert.equal(p.type, PacketType.CONNACK);
        assert.notEqual((p as ConnackPacket).reasonCode, 0);
      }
    }));

  test('MQTT 3.1 ("MQIsdp", level 3) is accepted', () =>
    withBroker({}, async (fx) => {
      const c = fx.client({ version: 3 });
      const connack = await c.connect({ clientId: uniqueId('v31') });
      assert.equal(connack.reasonCode, 0);
      await assertWorks(c);
    }));
});

describe('CONNACK', () => {
  test('[MQTT-3.2.0-1] CONNACK is the first packet sent, even when SUBSCRIBE and PINGREQ arrive in the same chunk', () =>
    withBroker({}, async (fx) => {
      const publisher = fx.client();
      await publisher.connect();
      await publisher.publish('first/retained', 'kept', 1, true);
      const c = fx.client();
      const connect = encodePacket(connectPacket(), 4);
      const subscribe = encodePacket(
        { type: PacketType.SUBSCRIBE, packetId: 7, subscriptions: [{ topicFilter: 'first/#', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] },
        4,
      );
      c.sendRaw(Buffer.concat([connect, subscribe, encodePacket({ type: PacketType.PINGREQ }, 4)]));
      await c.nextOfType(PacketType.PINGRESP);
      assert.deepEqual(types(c.received), [PacketType.CONNACK, PacketType.SUBACK, PacketType.PUBLISH, PacketType.PINGRESP]);
      assert.equal((c.received[0] as ConnackPacket).reasonCode, 0);
    }));
});

describe('CONNECT: client identifier', () => {
  test('[MQTT-3.1.3-6] an empty client id with clean session 1 is accepted and the connection works', () =>
    withBroker({}, async (fx) => {
      const c = fx.client();
      const connack = await c.connect({ clientId: '', cleanStart: true });
      assert.equal(connack.reasonCode, 0);
      assert.equal(connack.sessionPresent, false);
      await assertWorks(c);
    }));

  test('[MQTT-3.1.3-6] two clients with empty ids get distinct identities (no takeover)', () =>
    withBroker({}, async (fx, closes) => {
      const a = fx.client();
      const b = fx.client();
      assert.equal((await a.connect({ clientId: '' })).reasonCode, 0);
      assert.equal((await b.connect({ clientId: '' })).reasonCode, 0);
      await assertWorks(a);
      await assertWorks(b);
      assert.equal(a.closed, false);
      assert.equal(closes.events.length, 0);
    }));

  test('[MQTT-3.1.3-7] [MQTT-3.1.3-8] an empty client id with clean session 0 gets CONNACK 0x02, then the close', () =>
    withBroker({}, async (fx, closes) => {
      const c = fx.client();
      const connack = await c.connect({ clientId: '', cleanStart: false });
      assert.equal(connack.reasonCode, ConnackReturnCode.IDENTIFIER_REJECTED);
      assert.equal(connack.sessionPresent, false);
      await c.closedWithin();
      assert.deepEqual(types(c.received), [PacketType.CONNACK]);
      assert.equal((await closes.closeOf(undefined)).reason, 'client_id_rejected');
    }));

  test('[MQTT-3.1.3-9] with zero-length ids disallowed, an empty id gets CONNACK 0x02, then the close', () =>
    withBroker({ allowZeroLengthClientId: false }, async (fx) => {
      const c = fx.client();
      const connack = await c.connect({ clientId: '', cleanStart: true });
      assert.equal(connack.reasonCode, ConnackReturnCode.IDENTIFIER_REJECTED);
      await c.closedWithin();
    }));

  test('v5: an empty client id is assigned one and told it in Assigned Client Identifier', () =>
    withBroker({ autoIdPrefix: 'gen-' }, async (fx) => {
      const a = fx.client({ version: 5 });
      const b = fx.client({ version: 5 });
      const ca = await a.connect({ clientId: '' });
      const cb = await b.connect({ clientId: '' });
      assert.equal(ca.reasonCode, 0);
      const idA = ca.properties?.assignedClientIdentifier;
      const idB = cb.properties?.assignedClientIdentifier;
      assert.ok(idA !== undefined && idA.startsWith('gen-') && idA.length > 'gen-'.length, `assigned id ${String(idA)}`);
      assert.ok(idB !== undefined && idB !== idA, 'assigned ids are unique');
      await assertWorks(a);
    }));

  test('v5: a client that sends its own id gets no Assigned Client Identifier', () =>
    withBroker({}, async (fx) => {
      const c = fx.client({ version: 5 });
      const connack = await c.connect({ clientId: uniqueId('own') });
      assert.equal(connack.properties?.assignedClientIdentifier, undefined);
    }));

  test('v5: with zero-length ids disallowed, an empty id gets CONNACK 0x85 (Client Identifier not valid)', () =>
    withBroker({ allowZeroLengthClientId: false }, async (fx) => {
      const c = fx.client({ version: 5 });
      const connack = await c.connect({ clientId: '' });
      assert.equal(connack.reasonCode, ReasonCode.CLIENT_IDENTIFIER_NOT_VALID);
      await c.closedWithin();
    }));

  test('MQTT 3.1: an empty client id is rejected with CONNACK 0x02 (3.1 requires 1 to 23 characters)', () =>
    withBroker({}, async (fx) => {
      const c = fx.client({ version: 3 });
      const connack = await c.connect({ clientId: '' });
      assert.equal(connack.reasonCode, ConnackReturnCode.IDENTIFIER_REJECTED);
      await c.closedWithin();
    }));

  test('MQTT 3.1: a 24-character client id is rejected with CONNACK 0x02, then the close', () =>
    withBroker({}, async (fx) => {
      const c = fx.client({ version: 3 });
      const connack = await c.connect({ clientId: 'x'.repeat(24) });
      assert.equal(connack.reasonCode, ConnackReturnCode.IDENTIFIER_REJECTED);
      await c.closedWithin();
    }));

  test('MQTT 3.1: a 23-character client id is accepted', () =>
    withBroker({}, async (fx) => {
      const c = fx.client({ version: 3 });
      const connack = await c.connect({ clientId: 'y'.repeat(23) });
      assert.equal(connack.reasonCode, 0);
      await assertWorks(c);
    }));

  test('[MQTT-3.1.3-5] 3.1.1: client ids longer than 23 characters are accepted (allowed, not required)', () =>
    withBroker({}, async (fx) => {
      const c = fx.client();
      const connack = await c.connect({ clientId: 'z'.repeat(64) });
      assert.equal(connack.reasonCode, 0);
    }));
});

describe('CONNECT: keep alive above max_keepalive', () => {
  test('3.1.1: keepalive > max_keepalive is refused with CONNACK 0x02, then the close', () =>
    withBroker({ maxKeepalive: 60 }, async (fx) => {
      const c = fx.client();
      const connack = await c.connect({ keepAlive: 61 });
      assert.equal(connack.reasonCode, ConnackReturnCode.IDENTIFIER_REJECTED);
      await c.closedWithin();
    }));

  test('3.1.1: keepalive = max_keepalive is accepted', () =>
    withBroker({ maxKeepalive: 60 }, async (fx) => {
      const c = fx.client();
      assert.equal((await c.connect({ keepAlive: 60 })).reasonCode, 0);
    }));

  test('v5: keepalive > max_keepalive is accepted with Server Keep Alive = max_keepalive', () =>
    withBroker({ maxKeepalive: 60 }, async (fx) => {
      const c = fx.client({ version: 5 });
      const connack = await c.connect({ keepAlive: 600 });
      assert.equal(connack.reasonCode, 0);
      assert.equal(connack.properties?.serverKeepAlive, 60);
    }));

  test('v5: keepalive within max_keepalive gets no Server Keep Alive', () =>
    withBroker({ maxKeepalive: 60 }, async (fx) => {
      const c = fx.client({ version: 5 });
      const connack = await c.connect({ keepAlive: 30 });
      assert.equal(connack.properties?.serverKeepAlive, undefined);
    }));
});

describe('CONNECT: authentication', () => {
  for (const returnCode of [4, 5] as const) {
    test(`[MQTT-3.2.2-5] a synchronous refusal gets CONNACK ${returnCode}, then the close`, () => {
      const seen: ConnectInfo[] = [];
      const authenticator: Authenticator = {
        authenticate(info) {
          seen.push(info);
          return { ok: false, returnCode };
        },
      };
      return withBroker({ authenticator }, async (fx, closes) => {
        const c = fx.client();
        const id = uniqueId('refused');
        const connack = await c.connect({ clientId: id, username: 'u', password: Buffer.from('p') });
        assert.equal(connack.reasonCode, returnCode);
        assert.equal(connack.sessionPresent, false, '[MQTT-3.2.2-4]');
        await c.closedWithin();
        assert.deepEqual(types(c.received), [PacketType.CONNACK]);
        assert.equal((await closes.closeOf(id)).reason, returnCode === 4 ? 'bad_credentials' : 'not_authorized');
        assert.equal(seen[0]?.username, 'u');
        assert.equal(seen[0]?.password?.toString(), 'p');
        assert.equal(seen[0]?.clientId, id);
      });
    });
  }

  for (const [returnCode, v5Code] of [[4, ReasonCode.BAD_USER_NAME_OR_PASSWORD], [5, ReasonCode.NOT_AUTHORIZED]] as const) {
    test(`v5: a refusal with return code ${returnCode} gets CONNACK 0x${v5Code.toString(16)}`, () => {
      const authenticator: Authenticator = { authenticate: () => ({ ok: false, returnCode }) };
      return withBroker({ authenticator }, async (fx) => {
        const c = fx.client({ version: 5 });
        const connack = await c.connect({ username: 'u' });
        assert.equal(connack.reasonCode, v5Code);
        await c.closedWithin();
      });
    });
  }

  test('a refused client does not take over the live session of the same client id', () => {
    const authenticator: Authenticator = {
      authenticate: (info) => (info.username === 'good' ? { ok: true } : { ok: false, returnCode: 5 }),
    };
    return withBroker({ authenticator }, async (fx) => {
      const id = uniqueId('victim');
      const good = fx.client();
      assert.equal((await good.connect({ clientId: id, username: 'good' })).reasonCode, 0);
      const bad = fx.client();
      assert.equal((await bad.connect({ clientId: id, username: 'evil' })).reasonCode, 5);
      await bad.closedWithin();
      await assertWorks(good);
      assert.equal(good.closed, false);
    });
  });

  test('async authenticator: CONNACK 0 comes after the answer, and packets sent right after CONNECT then run in order', () => {
    const auth = new GatedAuthenticator();
    return withBroker({ authenticator: auth }, async (fx) => {
      const c = fx.client();
      c.send(connectPacket());
      c.send({ type: PacketType.SUBSCRIBE, packetId: 1, subscriptions: [{ topicFilter: 'async/t', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
      c.send({ type: PacketType.PUBLISH, topic: 'async/t', payload: Buffer.from('held'), qos: 0, retain: false, dup: false });
      c.send({ type: PacketType.PINGREQ });
      await auth.answer({ ok: true });
      await c.nextOfType(PacketType.PINGRESP);
      assert.deepEqual(types(c.received), [PacketType.CONNACK, PacketType.SUBACK, PacketType.PUBLISH, PacketType.PINGRESP]);
      assert.equal((c.received[0] as ConnackPacket).reasonCode, 0);
      assert.equal(auth.calls.length, 1);
    });
  });

  test('[MQTT-3.1.4-5] async authenticator: a refusal gets CONNACK 5 only; packets sent after the CONNECT are never processed', () => {
    const auth = new GatedAuthenticator();
    return withBroker({ authenticator: auth }, async (fx) => {
      const watcher = fx.client();
      const watcherConnect = watcher.connect();
      await auth.answer({ ok: true });
      await watcherConnect;
      await watcher.subscribe('held/#', 0);

      const c = fx.client();
      c.send(connectPacket());
      c.send({ type: PacketType.PUBLISH, topic: 'held/x', payload: Buffer.from('must not route'), qos: 0, retain: false, dup: false });
      c.send({ type: PacketType.PINGREQ });
      await auth.answer({ ok: false, returnCode: 5 });
      await c.closedWithin();
      assert.deepEqual(types(c.received), [PacketType.CONNACK]);
      assert.equal((c.received[0] as ConnackPacket).reasonCode, ConnackReturnCode.NOT_AUTHORIZED);
      await watcher.barrier();
      assert.equal(watcher.received.filter((p) => p.type === PacketType.PUBLISH).length, 0);
    });
  });

  test('async authenticator that fails gets CONNACK 3 (Server unavailable), then the close', () => {
    const auth = new GatedAuthenticator();
    return withBroker({ authenticator: auth }, async (fx) => {
      const c = fx.client();
      const connack = c.connect();
      await auth.answer(new Error('auth backend down'));
      assert.equal((await connack).reasonCode, ConnackReturnCode.SERVER_UNAVAILABLE);
      await c.closedWithin();
    });
  });
});

describe('CONNECT: session takeover', () => {
  test('[MQTT-3.1.4-2] a second connection with the same client id closes the first; the new one works', () =>
    withBroker({}, async (fx, closes) => {
      const id = uniqueId('dup');
      const first = fx.client();
      assert.equal((await first.connect({ clientId: id })).reasonCode, 0);
      const second = fx.client();
      assert.equal((await second.connect({ clientId: id })).reasonCode, 0);
      await first.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'session_taken_over');
      await assertWorks(second);
      assert.equal(second.closed, false);
    }));

  test('[MQTT-3.1.4-2] v5: the old connection gets DISCONNECT 0x8E (Session taken over)', () =>
    withBroker({}, async (fx) => {
      const id = uniqueId('dup5');
      const first = fx.client({ version: 5 });
      await first.connect({ clientId: id });
      const second = fx.client({ version: 5 });
      assert.equal((await second.connect({ clientId: id })).reasonCode, 0);
      const disconnect = await first.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
      assert.equal(disconnect.reasonCode, ReasonCode.SESSION_TAKEN_OVER);
      await first.closedWithin();
      await assertWorks(second);
    }));

  test('[MQTT-3.1.4-2] takeover across protocol versions (3.1.1 replaced by 5.0)', () =>
    withBroker({}, async (fx) => {
      const id = uniqueId('cross');
      const first = fx.client({ version: 4 });
      await first.connect({ clientId: id });
      const second = fx.client({ version: 5 });
      assert.equal((await second.connect({ clientId: id })).reasonCode, 0);
      await first.closedWithin();
      assert.equal(first.parseError, undefined, 'the 3.1.1 client got only 3.1.1 packets');
      await assertWorks(second);
    }));
});

describe('CONNECT: malformed', () => {
  const cases: { name: string; bytes: () => Buffer }[] = [
    { name: '[MQTT-3.1.2-3] reserved connect flag bit 0 set', bytes: () => rawConnect({ flags: 0x03 }) },
    { name: '[MQTT-2.2.2-2] CONNECT fixed header flags not 0', bytes: () => rawConnect({ firstByte: 0x11 }) },
    { name: '[MQTT-3.1.2-14] will QoS 3', bytes: () => rawConnect({ flags: 0x02 | 0x04 | 0x18, tail: [0, 1, 0x61, 0, 0] }) },
    { name: '[MQTT-3.1.2-13] will QoS set without the will flag', bytes: () => rawConnect({ flags: 0x02 | 0x08 }) },
    { name: '[MQTT-3.1.2-15] will retain set without the will flag', bytes: () => rawConnect({ flags: 0x02 | 0x20 }) },
    { name: '[MQTT-3.1.2-22] password flag without user name flag', bytes: () => rawConnect({ flags: 0x02 | 0x40, tail: [0, 1, 0x70] }) },
    { name: '[MQTT-3.1.2-19] user name flag set but no user name', bytes: () => rawConnect({ flags: 0x02 | 0x80 }) },
    {
      name: 'client id length beyond the packet',
      bytes: () => Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 0, 0, 9]),
    },
    {
      name: '[MQTT-1.5.3-2] client id containing U+0000',
      bytes: () => Buffer.from([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 0, 0, 1, 0]),
    },
  ];
  for (const { name, bytes } of cases) {
    test(`${name}: the connection is closed without CONNACK 0`, () =>
      withBroker({}, async (fx, closes) => {
        const c = fx.client();
        c.sendRaw(bytes());
        await c.closedWithin();
        for (const p of c.received) {
          assert.equal(p.type, PacketType.CONNACK);
          assert.notEqual((p as ConnackPacket).reasonCode, 0);
        }
        const closed = await closes.closeOf(undefined);
        assert.equal(closed.reason, 'malformed_packet');
        // another client is not affected
        const other = fx.client();
        assert.equal((await other.connect()).reasonCode, 0);
      }));
  }
});
