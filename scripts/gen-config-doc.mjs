#!/usr/bin/env node
// Writes docs/configuration.md from the config schema (run after `npm run build`).
// test/config/config-doc.test.ts fails when the committed page is out of date.
import { writeFileSync } from 'node:fs';
import { renderConfigDoc } from '../dist/src/config/doc.js';

writeFileSync(new URL('../docs/configuration.md', import.meta.url), renderConfigDoc());
console.log('wrote docs/configuration.md');
