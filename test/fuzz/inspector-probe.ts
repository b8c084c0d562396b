// A window into the broker's V8 heap through the Node inspector (the broker runs with
// --inspect=127.0.0.1:0, see fuzz-broker.ts): a full garbage collection before each memory
// reading, so "after" and "baseline" both count live memory only. Without it the reading
// depends on when V8 last collected, and the RSS of an idle broker can sit tens of MiB over
// what it holds for many seconds.
//
// The probe attaches only for the time of a reading: a process with a debugger attached
// does not exit on an uncaught exception but prints "Waiting for the debugger to
// disconnect..." and hangs, which would turn a crash into a hang.
import WebSocket from 'ws';
import { waitFor } from '../helpers/wait-for.js';

/** process.memoryUsage() of the broker right after a full GC, in bytes. */
export interface LiveMemory {
  rss: number;
  heapUsed: number;
  /** Buffers and other ArrayBuffer backing stores (outside the V8 heap). */
  arrayBuffers: number;
  external: number;
}

/** What Node prints on stderr for the inspector itself (not a sign of trouble). */
export const INSPECTOR_STDERR = [
  /^Debugger listening on ws:\/\/\S+$/,
  /^For help, see: https:\/\/nodejs\.org\/en\/docs\/inspector$/,
  /^Debugger attached\.$/,
  /^Debugger ending on ws:\/\/\S+$/,
  /^Waiting for the debugger to disconnect\.\.\.$/,
];

/** stderr without the inspector's own lines. */
export function stderrWithoutInspector(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => line.trim() !== '' && !INSPECTOR_STDERR.some((re) => re.test(line.trim())))
    .join('\n');
}

export class InspectorProbe {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, { resolve: (result: unknown) => void; reject: (err: Error) => void }>();
  #nextId = 1;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
      const call = message.id === undefined ? undefined : this.#pending.get(message.id);
      if (call === undefined) return;
      this.#pending.delete(message.id!);
      if (message.error !== undefined) call.reject(new Error(message.error.message));
      else call.resolve(message.result);
    });
    ws.on('close', () => {
      for (const call of this.#pending.values()) call.reject(new Error('inspector connection closed'));
      this.#pending.clear();
    });
  }

  /** Where the process's inspector listens (it prints that on stderr at startup). */
  static async address(stderr: () => string): Promise<string> {
    let url: string | undefined;
    await waitFor(() => (url = /Debugger listening on (ws:\/\/\S+)/.exec(stderr())?.[1]) !== undefined, {
      timeoutMs: 10_000,
      message: () => `the broker's inspector address on its stderr: ${stderr()}`,
    });
    return url!;
  }

  /** Attaches, takes one reading, detaches. */
  static async liveMemory(url: string): Promise<LiveMemory> {
    const ws = new WebSocket(url);
    ws.on('error', () => undefined); // a close follows, which fails what is pending
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('close', () => reject(new Error(`inspector at ${url} closed`)));
    });
    const probe = new InspectorProbe(ws);
    try {
      return await probe.#liveMemory();
    } finally {
      ws.close();
    }
  }

  #call(method: string, params: object = {}): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Two full GCs (the second catches what finalizers of the first let go), then the reading. */
  async #liveMemory(): Promise<LiveMemory> {
    await this.#call('HeapProfiler.collectGarbage');
    await this.#call('HeapProfiler.collectGarbage');
    const result = (await this.#call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true })) as {
      result: { value: string };
    };
    const m = JSON.parse(result.result.value) as LiveMemory;
    return { rss: m.rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, external: m.external };
  }
}
