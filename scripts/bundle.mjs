#!/usr/bin/env node
// Bundles container entry points into self-contained ESM files for the app images
// (apps/ingest/Dockerfile, apps/worker/Dockerfile, apps/console/Dockerfile), so the runtime stage needs neither tsx, the
// TypeScript sources nor the workspace's node_modules.
//
//   node scripts/bundle.mjs <outdir> <entry.ts>...   → <outdir>/<entry name>.mjs
//
// Everything is bundled, npm packages included. Exceptions, kept out of the bundle on purpose:
// - `pg-native`: pg's optional native driver, only loaded when asked for (`pg.native`).
// - `@bull-board/ui`: static files, found at runtime with `require.resolve`, so the ingest image
//   the console image copies that one package next to the bundle.
// CommonJS dependencies that call `require`, `__dirname` or `__filename` get them from the banner.
import { build } from 'esbuild';

const [outdir, ...entryPoints] = process.argv.slice(2);
if (!outdir || entryPoints.length === 0) {
  console.error('usage: node scripts/bundle.mjs <outdir> <entry.ts>...');
  process.exit(2);
}

await build({
  entryPoints,
  outdir,
  entryNames: '[name]',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  external: ['pg-native'],
  banner: {
    js: [
      "import { createRequire as __pitcrewCreateRequire } from 'node:module';",
      "import { fileURLToPath as __pitcrewFileURLToPath } from 'node:url';",
      "import { dirname as __pitcrewDirname } from 'node:path';",
      'const require = __pitcrewCreateRequire(import.meta.url);',
      'const __filename = __pitcrewFileURLToPath(import.meta.url);',
      'const __dirname = __pitcrewDirname(__filename);',
    ].join('\n'),
  },
  logLevel: 'warning',
});
