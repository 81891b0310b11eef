#!/usr/bin/env node
// Bundles the live page into dashboard/dist/www/, the folder the collector serves at `/`:
//   app.js (+ app.js.map)  from src/main.ts, ESM, es2022, minified
//   index.html, style.css, uPlot.min.css
// Run by the root `npm run build` after `tsc -b` (type checking is tsc's job, not esbuild's).
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist', 'www');
const require = createRequire(import.meta.url);

/**
 * zod's `z` namespace re-exports every locale (~250 KB minified) and so defeats tree
 * shaking; the page validates with the default English messages only, which zod imports
 * by its own path. Load the locale index as English-only.
 */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, (args) => ({
      contents: 'export { default as en } from "./en.js";\n',
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};

async function build() {
  const esbuild = await import('esbuild');
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });

  await esbuild.build({
    absWorkingDir: here,
    entryPoints: [join(here, 'src', 'main.ts')],
    outfile: join(out, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    // Workspace packages resolve to their TypeScript sources.
    conditions: ['stroom-source'],
    legalComments: 'linked',
    logLevel: 'warning',
    plugins: [zodEnglishOnly],
  });

  const copies = [
    [join(here, 'index.html'), join(out, 'index.html')],
    [join(here, 'src', 'style.css'), join(out, 'style.css')],
    [require.resolve('uplot/dist/uPlot.min.css'), join(out, 'uPlot.min.css')],
  ];
  for (const [from, to] of copies) await copyFile(from, to);
}

try {
  await build();
  console.log(`dashboard: built ${relative(process.cwd(), out) || '.'}`);
} catch (err) {
  // esbuild has already printed its diagnostics; say which step failed and exit non-zero.
  const msg = err instanceof Error ? err.message : String(err);
  console.error(`dashboard build failed: ${msg}`);
  process.exitCode = 1;
}
