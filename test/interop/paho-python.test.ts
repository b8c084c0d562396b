// Eclipse Paho for Python (Debian's python3-paho-mqtt, run by Debian's own /usr/bin/python3,
// not the python3 first on PATH) against an embedded broker: test/interop/paho_client.py
// runs one scenario per protocol version and prints its results as JSON.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REPO_ROOT, killAllChildren, requireTool, run, startCliBroker, uniqueTopic, type CliBroker } from './support.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(REPO_ROOT, 'test', 'interop', 'paho_client.py');

interface Message {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
}

interface PahoResult {
  ok: boolean;
  errors?: string[];
  paho_version: string;
  protocol: string;
  connack: { sub: number; pub: number; late: number };
  granted: number[];
  late_granted: number[];
  messages: Message[];
  retained: Message[];
  will: Message[];
}

describe('paho-mqtt (Python) interoperability', () => {
  let broker: CliBroker | undefined;
  let port = 0;

  // a missing python or paho fails every test with how to get it (never a skip)
  let missing: Error | undefined;

  before(async () => {
    try {
      requireTool(PYTHON);
      const probe = await run(PYTHON, ['-c', 'import paho.mqtt; print(paho.mqtt.__version__)'], 10_000);
      if (probe.exit?.code !== 0) {
        throw new Error(`python3-paho-mqtt not importable by ${PYTHON}: apt-get install python3-paho-mqtt, or run npm run test:all\n${probe.stderr}`);
      }
    } catch (err) {
      missing = err as Error;
      return;
    }
    // the real `culex` process, as the README starts it
    broker = await startCliBroker();
    ({ port } = broker);
  });

  after(async () => {
    await killAllChildren();
    await broker?.dispose();
  });

  for (const protocol of ['31', '311', '5'] as const) {
    test(`MQTT ${protocol === '31' ? '3.1' : protocol === '311' ? '3.1.1' : '5.0'}: connect, subscribe, QoS 0/1/2, retained, will`, async () => {
      if (missing) throw missing;
      const prefix = uniqueTopic(`paho/${protocol}`);
      const child = await run(PYTHON, [SCRIPT, '127.0.0.1', String(port), protocol, prefix], 20_000);
      const last = child.stdoutLines.at(-1) ?? '';
      let result: PahoResult;
      try {
        result = JSON.parse(last) as PahoResult;
      } catch {
        throw new Error(`paho_client.py printed no JSON result:\n${child.describe()}`);
      }
      assert.equal(result.ok, true, `paho_client.py failed: ${JSON.stringify(result.errors)}\n${child.describe()}`);
      assert.equal(child.exit?.code, 0, child.describe());
      assert.deepEqual(result.connack, { sub: 0, pub: 0, late: 0 });
      assert.deepEqual(result.granted, [2]);
      assert.deepEqual(result.late_granted, [1]);
      assert.deepEqual(result.messages, [
        { topic: `${prefix}/q0`, payload: 'qos 0', qos: 0, retain: false },
        { topic: `${prefix}/q1`, payload: 'qos 1', qos: 1, retain: false },
        { topic: `${prefix}/q2`, payload: 'qos 2', qos: 2, retain: false },
        { topic: `${prefix}/retained`, payload: 'kept', qos: 1, retain: false },
      ]);
      assert.deepEqual(result.retained, [{ topic: `${prefix}/retained`, payload: 'kept', qos: 1, retain: true }]);
      assert.deepEqual(result.will, [{ topic: `${prefix}/will`, payload: 'gone', qos: 1, retain: false }]);
    });
  }
});
