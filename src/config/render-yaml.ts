// Writes a config as a commented YAML file: each key the config sets, under its meaning from
// the schema. For `culex migrate` (mosquitto.conf to YAML) and any tool that writes configs.
// Reading the output back with parseConfigText gives the same config.
import { Document, isMap, isScalar, type Pair } from 'yaml';
import { CONFIG_SPEC, listenerWithoutDefaults, type CulexConfig, type ListenerConfig } from './schema.js';

export interface RenderOptions {
  /** Comment lines at the top of the file (without the leading `#`). */
  readonly header?: readonly string[];
}

export function renderYaml(config: Partial<CulexConfig>, options: RenderOptions = {}): string {
  const ordered: Record<string, unknown> = {};
  for (const key of Object.keys(CONFIG_SPEC.fields)) {
    const value = (config as Record<string, unknown>)[key];
    if (value === undefined) continue;
    ordered[key] = key === 'listeners' && Array.isArray(value) ? value.map((l: ListenerConfig) => listenerWithoutDefaults(l)) : value;
  }
  const doc = new Document(ordered);
  if (options.header !== undefined && options.header.length > 0) doc.commentBefore = options.header.map((l) => ` ${l}`).join('\n');
  if (isMap(doc.contents)) {
    (doc.contents.items as Pair[]).forEach((pair, i) => {
      if (!isScalar(pair.key)) return;
      const field = CONFIG_SPEC.fields[String(pair.key.value) as keyof typeof CONFIG_SPEC.fields];
      pair.key.commentBefore = wrap(field.doc, 96).map((l) => ` ${l}`).join('\n');
      if (i > 0) pair.key.spaceBefore = true;
    });
  }
  return doc.toString({ lineWidth: 0 });
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}
