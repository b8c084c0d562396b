// Real clients over TLS against `culex` started from a config file with a test CA:
// mosquitto_sub/pub with --cafile and a password, MQTT.js over wss, and paho (Debian's
// python3-paho-mqtt) with a client certificate whose CN becomes the identity ACLs see.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { runPasswd } from '../../src/cli/passwd.js';
import { testCa, type TestCa } from '../helpers/test-ca.js';
import { waitFor } from '../helpers/wait-for.js';
import { requireTool, run, runMosquittoPub, startCliBroker, startMosquittoSub, removeDir, tempDir, type CliBroker } from './support.js';
import { PassThrough } from 'node:stream';

const PYTHON = '/usr/bin/python3';

// argv: port ca cert key filter topic=payload...; the last payload is END and ends the run,
// so a message that should not arrive would have arrived before it (same connection, in order)
const PAHO_TLS = `
import os, sys, json, paho.mqtt.client as mqtt
port, ca, cert, key, filt = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
sends = [a.split("=", 1) for a in sys.argv[6:]]
out = {"messages": []}
c = mqtt.Client(client_id="paho-tls-cert", protocol=mqtt.MQTTv311)
c.tls_set(ca_certs=ca, certfile=cert, keyfile=key)
def on_connect(cl, userdata, flags, rc):
    out["rc"] = rc
    if rc != 0: cl.disconnect(); return
    cl.subscribe(filt, 1)
def on_subscribe(cl, userdata, mid, granted):
    out["granted"] = list(granted)
    for topic, payload in sends: cl.publish(topic, payload, 1)
def on_message(cl, userdata, msg):
    out["messages"].append(msg.topic + "=" + msg.payload.decode())
    if msg.payload == b"END": cl.disconnect()
def on_disconnect(cl, userdata, rc):
    if "rc" not in out:
        # refused before any CONNACK (a failed TLS handshake): report it, do not reconnect
        sys.stdout.write(json.dumps({"error": "disconnected before CONNACK", "code": rc}) + "\\n")
        sys.stdout.flush()
        os._exit(3)
c.on_connect, c.on_subscribe, c.on_message, c.on_disconnect = on_connect, on_subscribe, on_message, on_disconnect
c.connect("127.0.0.1", port, 30)
c.loop_forever(timeout=1.0)
print(json.dumps(out))
`;

function listeningPorts(broker: CliBroker): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of broker.logs()) if (line.msg === 'listening') out.set(String(line.listener), Number(line.port));
  return out;
}

describe('TLS with real clients (culex from a config file)', () => {
  let broker: CliBroker;
  let ca: TestCa;
  let ports: Map<string, number>;
  let dir: string;

  before(async () => {
    requireTool('mosquitto_sub');
    ca = await testCa();
    dir = tempDir('culex-tls-');
    const passwd = join(dir, 'passwd');
    const sink = new PassThrough();
    sink.resume();
    const code = await runPasswd(['-c', '-b', passwd, 'alice', 's3cret'], { stdin: new PassThrough(), stdout: sink, stderr: sink });
    assert.equal(code, 0);
    writeFileSync(join(dir, 'acl'), 'user alice\ntopic readwrite #\n\nuser device-1\ntopic readwrite devices/device-1/#\n');
    const config = [
      'allow_anonymous: false',
      `password_file: ${passwd}`,
      `acl_file: ${join(dir, 'acl')}`,
      'listeners:',
      '  - type: tcp',
      '    port: 0',
      '  - type: tls',
      '    port: 0',
      `    certfile: ${ca.server.cert}`,
      `    keyfile: ${ca.server.key}`,
      '  - type: tls',
      '    port: 0',
      `    certfile: ${ca.server.cert}`,
      `    keyfile: ${ca.server.key}`,
      `    cafile: ${ca.caCert}`,
      '    require_certificate: true',
      '    use_identity_as_username: true',
      '  - type: wss',
      '    port: 0',
      `    certfile: ${ca.server.cert}`,
      `    keyfile: ${ca.server.key}`,
      '',
    ].join('\n');
    broker = await startCliBroker({ config });
    await waitForListeners(broker, 4);
    ports = listeningPorts(broker);
  });

  after(async () => {
    await broker?.dispose();
    if (dir !== undefined) removeDir(dir);
  });

  async function waitForListeners(b: CliBroker, count: number): Promise<void> {
    // the MQTT listeners and the HTTP server each print a "listening" line
    await waitFor(() => listeningPorts(b).size >= count + 1, { timeoutMs: 10_000, message: () => `listeners to start: ${b.child.describe()}` });
  }

  test('mosquitto_sub --cafile -u -P receives what mosquitto_pub sends over TLS; a wrong password is refused', async () => {
    const port = String(ports.get('tls:auto1'));
    const tls = ['-h', '127.0.0.1', '-p', port, '--cafile', ca.caCert, '-u', 'alice', '-P', 's3cret'];
    // resolves once the SUBACK is in, so the publish cannot race the subscription
    const sub = await startMosquittoSub(requireTool('stdbuf'), requireTool('mosquitto_sub'), [...tls, '-t', 'tls/chat', '-q', '1', '-C', '1', '-i', 'mq-tls-sub']);
    await runMosquittoPub(requireTool('mosquitto_pub'), [...tls, '-t', 'tls/chat', '-q', '1', '-m', 'hello over tls']);
    const exit = await sub.exited;
    assert.equal(exit.code, 0, sub.describe());
    assert.match(sub.stdout, /^hello over tls$/m);

    const wrong = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '--cafile', ca.caCert, '-u', 'alice', '-P', 'nope', '-t', 'tls/chat', '-m', 'x'], 10_000);
    assert.notEqual(wrong.exit?.code, 0, wrong.describe());
    assert.match(wrong.stderr, /bad user name or password|not authori[sz]ed/i);
  });

  test('MQTT.js over wss with the test CA: subscribe and publish with a password', async () => {
    const port = ports.get('wss:auto3');
    const client = await mqtt.connectAsync(`wss://127.0.0.1:${port}/mqtt`, {
      ca: readFileSync(ca.caCert),
      username: 'alice',
      password: 's3cret',
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    try {
      await client.subscribeAsync('wss/topic', { qos: 1 });
      const got = new Promise<string>((resolve) => client.once('message', (_t, payload) => resolve(payload.toString())));
      await client.publishAsync('wss/topic', 'over wss', { qos: 1 });
      assert.equal(await got, 'over wss');
    } finally {
      await client.endAsync();
    }
  });

  test('paho over TLS with a client certificate: its CN (device-1) is the identity the ACL file sees', async () => {
    const port = String(ports.get('tls:auto2'));
    const args = [port, ca.caCert, ca.client.cert, ca.client.key, 'devices/#', 'devices/device-2/status=not yours', 'devices/device-1/status=END'];
    const r = await run(PYTHON, ['-c', PAHO_TLS, ...args], 20_000);
    assert.equal(r.exit?.code, 0, r.describe());
    // the ACL gives device-1 only devices/device-1/#: its write to device-2 is dropped (and
    // would not be readable by it either); its own topic goes through
    assert.deepEqual(JSON.parse(r.stdout.trim()), { rc: 0, granted: [1], messages: ['devices/device-1/status=END'] });
  });

  test('a client certificate from another CA fails the handshake; the listener keeps serving good clients', async () => {
    const port = String(ports.get('tls:auto2'));
    const bad = await run(PYTHON, ['-c', PAHO_TLS, port, ca.caCert, ca.otherClient.cert, ca.otherClient.key, 'devices/device-1/x', 'devices/device-1/x=END'], 20_000);
    assert.notEqual(bad.exit?.code, 0, `the handshake must fail: ${bad.describe()}`);
    assert.match(bad.stdout + bad.stderr, /disconnected before CONNACK|SSL|certificate|reset|EOF/i);
    const good = await run(PYTHON, ['-c', PAHO_TLS, port, ca.caCert, ca.client.cert, ca.client.key, 'devices/device-1/y', 'devices/device-1/y=END'], 20_000);
    assert.equal(good.exit?.code, 0, good.describe());
    assert.deepEqual((JSON.parse(good.stdout.trim()) as { messages: string[] }).messages, ['devices/device-1/y=END']);
  });
});
