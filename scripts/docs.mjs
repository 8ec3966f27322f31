#!/usr/bin/env node
// Writes the tables of docs/state-machine.md from the operations' phase tables (npm run docs,
// after the build). test/unit/state-machine-doc.test.ts fails when the document and the
// tables differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { describeOperations, describeStates, withGenerated } from '../dist/manager/core/operations/describe.js';

const path = new globalThis.URL('../docs/state-machine.md', import.meta.url);
let doc = readFileSync(path, 'utf8');
doc = withGenerated(doc, 'states', describeStates());
doc = withGenerated(doc, 'operations', describeOperations());
writeFileSync(path, doc);
console.log('docs/state-machine.md: tables written');
