// Builds the dashboard into internal/web/ui (embedded into actlog by the Go
// build): index.html, assets/app.js (one minified ES module with the used
// parts of ECharts) and assets/app.css (src/style.css, imported by main.js).
// Prints the size of each file.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
export const outdir = here('../internal/web/ui/');

const index = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>actlog</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/assets/app.css">
<script type="module" src="/ui/assets/app.js"></script>
</head>
<body><div id="app"></div></body>
</html>
`;

export async function buildDashboard() {
  mkdirSync(outdir + 'assets', { recursive: true });
  await build({
    entryPoints: { app: here('src/main.js') },
    outdir: outdir + 'assets',
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022', 'chrome110', 'safari16', 'firefox110'],
    define: { 'process.env.NODE_ENV': '"production"' },
    legalComments: 'none',
    logLevel: 'warning',
  });
  writeFileSync(outdir + 'index.html', index);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildDashboard();
  for (const f of ['index.html', 'assets/app.js', 'assets/app.css']) {
    const size = statSync(outdir + f).size;
    const gz = gzipSync(readFileSync(outdir + f)).length;
    console.log(`${('internal/web/ui/' + f).padEnd(32)} ${(size / 1024).toFixed(1).padStart(7)} KiB  (${(gz / 1024).toFixed(1)} KiB gzipped)`);
  }
}
