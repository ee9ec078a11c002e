// The Go binary serves internal/web/assets/actlog.js; it must be this
// folder's build, byte for byte. Run `npm run build` and copy dist/actlog.js
// there (make tracker does both) after changing the tracker.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildTracker, outfile } from '../build.mjs';

test('the served copy is the current build', async () => {
  await buildTracker();
  const built = readFileSync(outfile);
  const served = readFileSync(fileURLToPath(new URL('../../internal/web/assets/actlog.js', import.meta.url)));
  assert.ok(built.equals(served), 'internal/web/assets/actlog.js is stale: run `make tracker`');
});
