// Builds dist/actlog.js: one minified IIFE (es2018). Used by `npm run build`
// and by test/size.test.mjs.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

export const outfile = fileURLToPath(new URL('dist/actlog.js', import.meta.url));

export function buildTracker() {
  return build({
    entryPoints: [fileURLToPath(new URL('src/actlog.js', import.meta.url))],
    outfile,
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2018',
    legalComments: 'none',
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildTracker();
