// Finding the one connection that brought the broker down: replays a range of a run's
// connections (rebuilt from the seed) one at a time against a fresh broker, checking after
// each that the broker still answers. Used by `npm run fuzz` with FUZZ_REPLAY=a..b.
import mqtt from 'mqtt';
import { describePlan, planConnection } from './connection-plan.js';
import { startFuzzBroker } from './fuzz-broker.js';
import { endQuietly } from './good-clients.js';
import { PacketFuzzer } from './packet-fuzzer.js';

/** "17", "3..9" or "3,5,8" -> indexes. */
export function parseRange(text: string): number[] {
  const range = /^(\d+)\.\.(\d+)$/.exec(text);
  if (range !== null) {
    const from = Number(range[1]);
    return Array.from({ length: Math.max(0, Number(range[2]) - from + 1) }, (_, i) => from + i);
  }
  return text.split(',').map(Number);
}

/** Connects, subscribes and gets a PINGRESP-equivalent answer (SUBACK) within 3 s, or throws. */
async function answers(port: number): Promise<void> {
  const client = mqtt.connect({ host: '127.0.0.1', port, clientId: 'replay-check', reconnectPeriod: 0, connectTimeout: 3000 });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
      client.once('close', () => reject(new Error('closed')));
    });
    await client.subscribeAsync('replay/check', { qos: 1 });
  } finally {
    await endQuietly(client);
  }
}

/** Returns the index of the first connection after which the broker no longer answers, if any. */
export async function replay(seed: number, indexes: number[], log: (line: string) => void): Promise<number | undefined> {
  const broker = await startFuzzBroker('memory');
  try {
    for (const index of indexes) {
      const fuzzer = new PacketFuzzer({ host: '127.0.0.1', port: broker.port }, { seed, concurrency: 1, firstIndex: index, lastIndex: index });
      await fuzzer.run(Infinity);
      const ok = await answers(broker.port).then(
        () => broker.child.exit === undefined,
        () => false,
      );
      if (!ok) {
        await broker.child.waitExit(3000, 'the broker to exit').catch(() => undefined); // for its exit code and stderr
        log(`connection ${index} brought the broker down (exit ${JSON.stringify(broker.child.exit)}):`);
        log(describePlan(planConnection(seed, index)));
        log(`broker stderr:\n${broker.child.stderr}`);
        return index;
      }
    }
    log(`the broker survived connections ${indexes[0]}..${indexes[indexes.length - 1]} replayed one at a time (the failure may need them together)`);
    return undefined;
  } finally {
    await broker.dispose();
  }
}
