// Structured logging with pino; a silent logger for embedders who pass none.
import { pino } from 'pino';
import type { Logger } from '../core/ports.js';

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino({ level, base: { pid: process.pid } }, destination ?? pino.destination({ sync: false }));
}

export function silentLogger(): Logger {
  const noop = (): void => {};
  return { debug: noop, info: noop, warn: noop, error: noop };
}
