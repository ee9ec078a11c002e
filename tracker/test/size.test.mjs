// The size budget of issue 4: the served script must stay within 4096 bytes
// after gzip -9. Builds dist/actlog.js first, so it always measures the source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { buildTracker, outfile } from '../build.mjs';

const BUDGET = 4096;

test(`dist/actlog.js is at most ${BUDGET} bytes gzip -9`, async () => {
  await buildTracker();
  const raw = readFileSync(outfile);
  const gz = gzipSync(raw, { level: 9 }).length;
  console.log(`actlog.js: ${raw.length} bytes minified, ${gz} bytes gzip -9 (budget ${BUDGET})`);
  assert.ok(gz <= BUDGET, `actlog.js is ${gz} bytes gzip -9, over the budget of ${BUDGET}`);
});
