// Two connected in-memory Duplex streams: what one writes, the other reads. Lets the broker
// run without sockets (DESIGN habit 5) while keeping the parts of socket behaviour that
// matter to it:
// - backpressure: a write is acknowledged only once the peer's reader wants more, so a
//   peer that stops reading makes write() return false, as a slow TCP client would;
// - end() is the peer's 'end' (FIN); with allowHalfOpen false (the default, as for
//   net.Socket) the peer then ends its own side and both close;
// - destroy() on one side is seen by the other as 'end' (the connection went away), not
//   as an error; what the other side writes afterwards is dropped, as on a dead socket.
import { Duplex } from 'node:stream';

export interface DuplexPairOptions {
  /** Keep a side writable after its readable side ended. Default false, like net.Socket. */
  readonly allowHalfOpen?: boolean;
  /** Bytes buffered on each side before write() returns false. Default: Node's default. */
  readonly highWaterMark?: number;
}

class PairedDuplex extends Duplex {
  #peer: PairedDuplex | undefined = undefined;
  // The peer's write callback, held until this side's reader asks for more.
  #pendingWrite: (() => void) | undefined = undefined;
  #eofPushed = false;

  link(peer: PairedDuplex): void {
    this.#peer = peer;
  }

  override _read(): void {
    this.#releasePendingWrite();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const peer = this.#peer;
    if (peer === undefined || peer.destroyed || peer.#eofPushed) {
      callback();
      return;
    }
    if (peer.push(chunk)) callback();
    else peer.#pendingWrite = callback;
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#peer !== undefined) this.#peer.#pushEof();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Unblock a peer write waiting on our reader; its data has nowhere to go now.
    this.#releasePendingWrite();
    if (this.#peer !== undefined) this.#peer.#pushEof();
    callback(error);
  }

  #pushEof(): void {
    if (this.#eofPushed || this.destroyed) return;
    this.#eofPushed = true;
    this.push(null);
  }

  #releasePendingWrite(): void {
    const callback = this.#pendingWrite;
    this.#pendingWrite = undefined;
    callback?.();
  }
}

/** Returns two connected Duplex streams, e.g. [clientSide, brokerSide]. */
export function duplexPair(options: DuplexPairOptions = {}): [Duplex, Duplex] {
  const streamOptions = {
    allowHalfOpen: options.allowHalfOpen ?? false,
    ...(options.highWaterMark === undefined ? {} : { highWaterMark: options.highWaterMark }),
  };
  const a = new PairedDuplex(streamOptions);
  const b = new PairedDuplex(streamOptions);
  a.link(b);
  b.link(a);
  return [a, b];
}
