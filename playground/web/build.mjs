// Builds the GraphiQL bundle that the Go package embeds: ../dist/graphiql.js
// and ../dist/graphiql.css, minified, with every asset inlined, so the page
// needs nothing but these two files (and ../dist/favicon.svg). The output is deterministic: the same
// lock file gives byte-identical files.
import * as esbuild from 'esbuild';
import { copyFileSync, rmSync } from 'node:fs';

const outdir = new URL('../dist/', import.meta.url).pathname;
rmSync(outdir, { recursive: true, force: true });

await esbuild.build({
  entryPoints: { graphiql: 'src/index.jsx' },
  outdir,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  jsx: 'automatic',
  legalComments: 'eof',
  sourcemap: false,
  // Fonts and images referenced from CSS become data: URLs: no extra files.
  loader: { '.woff': 'dataurl', '.woff2': 'dataurl', '.ttf': 'dataurl', '.svg': 'dataurl', '.png': 'dataurl' },
  define: {
    'process.env.NODE_ENV': '"production"',
    // graphql-js checks globalThis.process before reading NODE_ENV.
    'globalThis.process': 'true',
  },
  logLevel: 'info',
});

copyFileSync('src/favicon.svg', `${outdir}favicon.svg`);
