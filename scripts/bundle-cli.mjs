#!/usr/bin/env node
// Bundles the CLI's start-up path into one file, packages/cli/dist/ruletrail.bundle.js (run by `npm run build`
// after `tsc -b`). Why: `ruletrail explain --packet …` on a small file is dominated by start-up, and loading ~45
// CommonJS modules of the explain path (resolve, read, compile each) cost ~45 ms of it; one file costs one read and
// one compile, which bin/ruletrail.js also caches (V8 code cache, see there).
// The other subcommands (run, validate, snapshot, setup) stay outside the bundle and load from dist/ on demand, so
// the bundle holds no Kafka / Elasticsearch client. Everything it holds is our own workspace code.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '../packages/cli');
const EXTERNAL = [
  './run-command.js',
  './validate-command.js',
  './snapshot-command.js',
  './setup-command.js',
  // plugins lists every registered source and sink (registry.ts), so it loads their packages.
  './plugins-command.js',
  // trace can send through the pipeline's sinks (--sink), so it pulls in the third-party clients.
  './trace/index.js',
];

// main.js loads subcommands with import(); a script compiled by bin/ruletrail.js (vm.Script, for the code cache)
// has no dynamic-import callback on Node 20, so the external ones become require() calls, resolved from dist/.
const lazyRequire = {
  name: 'lazy-require',
  setup(b) {
    b.onLoad({ filter: /[\\/]cli[\\/]dist[\\/]main\.js$/ }, (args) => {
      let contents = fs.readFileSync(args.path, 'utf8');
      for (const x of EXTERNAL) {
        const from = `import('${x}')`;
        if (!contents.includes(from)) throw new Error(`${args.path}: no ${from} to rewrite`);
        contents = contents.replaceAll(from, `Promise.resolve(require('${x}'))`);
      }
      return { contents, loader: 'js' };
    });
  },
};
await build({
  entryPoints: [path.join(CLI, 'dist/main.js')],
  outfile: path.join(CLI, 'dist/ruletrail.bundle.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Lazily loaded subcommands that pull in third-party clients: required from dist/ at run time.
  external: EXTERNAL,
  plugins: [lazyRequire],
  sourcemap: false,
  logLevel: 'warning',
});

// bin/ruletrail.js compiles the bundle with vm.Script (for the code cache), which has no dynamic-import callback
// on Node 20: an import() left in the bundle would fail at run time, so refuse to build one.
const out = fs.readFileSync(path.join(CLI, 'dist/ruletrail.bundle.js'), 'utf8');
const dyn = /\bimport\(\s*["'`]/.exec(out);
if (dyn) {
  const line = out.slice(0, dyn.index).split('\n').length;
  throw new Error(
    `dist/ruletrail.bundle.js:${line}: a dynamic import() the launcher cannot run; use require()`,
  );
}
