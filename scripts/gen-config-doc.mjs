#!/usr/bin/env node
// Writes docs/configuration.md and docs/config.schema.json from the config schema (run after
// `npm run build`). test/config/config.test.ts and test/config/json-schema.test.ts fail when
// the committed files are out of date.
import { writeFileSync } from 'node:fs';
import { renderConfigDoc } from '../dist/src/config/doc.js';
import { renderJsonSchemaText } from '../dist/src/config/json-schema.js';

writeFileSync(new URL('../docs/configuration.md', import.meta.url), renderConfigDoc());
console.log('wrote docs/configuration.md');
writeFileSync(new URL('../docs/config.schema.json', import.meta.url), renderJsonSchemaText());
console.log('wrote docs/config.schema.json');
