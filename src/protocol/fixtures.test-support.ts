// Helpers for byte-level fixtures in the codec's unit tests. Not a test file itself.
import assert from 'node:assert/strict';
import { MqttProtocolError, type ProtocolErrorCode } from './errors.js';

/**
 * Builds a Buffer from numbers (one byte each) and strings (their UTF-8 bytes, no
 * length prefix), so fixtures read like the spec's byte tables.
 */
export function bytes(...parts: (number | string)[]): Buffer {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === 'number') out.push(part);
    else out.push(...Buffer.from(part, 'utf8'));
  }
  return Buffer.from(out);
}

/** Asserts `fn` throws MqttProtocolError with `code` (and returns it for more checks). */
export function expectProtocolError(fn: () => unknown, code: ProtocolErrorCode, message?: RegExp): MqttProtocolError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof MqttProtocolError, `expected MqttProtocolError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message !== undefined) assert.match(caught.message, message);
  return caught;
}
