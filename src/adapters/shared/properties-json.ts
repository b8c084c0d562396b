// MQTT 5 properties as JSON text for durable stores: binary ones (Correlation Data,
// Authentication Data) as base64 under a marker key, everything else as it is.
import type { Properties } from '../../protocol/types.js';

const BINARY = ['correlationData', 'authenticationData'] as const;

export function propertiesToJson(properties: Properties | undefined): string | null {
  if (properties === undefined) return null;
  const plain: Record<string, unknown> = { ...properties };
  for (const key of BINARY) {
    const value = properties[key];
    if (value !== undefined) plain[key] = { base64: value.toString('base64') };
  }
  return JSON.stringify(plain);
}

export function propertiesFromJson(text: string | null | undefined): Properties | undefined {
  if (text === null || text === undefined) return undefined;
  const plain = JSON.parse(text) as Record<string, unknown>;
  for (const key of BINARY) {
    const value = plain[key] as { base64: string } | undefined;
    if (value !== undefined) plain[key] = Buffer.from(value.base64, 'base64');
  }
  return plain as Properties;
}
