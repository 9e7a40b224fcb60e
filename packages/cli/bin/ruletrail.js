#!/usr/bin/env node
// Committed launcher (with its executable bit) so `npx ruletrail` works right after `npm ci`, whatever mode
// the compiled dist/main.js ends up with.
//
// Start-up is part of every one-packet query, so the launcher runs dist/ruletrail.bundle.js (the explain path in
// one file, made by scripts/bundle-cli.mjs during `npm run build`) when it exists, compiled with a V8 code cache
// kept next to it (Node 20 has no module.enableCompileCache, which arrived in 22.1): the first run writes the
// cache, later runs skip compiling the functions it holds. A missing, stale or rejected cache only costs that
// compile; an unwritable directory only means no cache. Without the bundle it loads dist/main.js as before.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dist = path.join(__dirname, '../dist');
const bundle = path.join(dist, 'ruletrail.bundle.js');

function loadBundle() {
  const Module = require('node:module');
  const vm = require('node:vm');
  let source;
  let stat;
  try {
    stat = fs.statSync(bundle);
    // A bundle older than any workspace package's last build is stale (tsc -b rebuilt a package without the
    // bundling step, e.g. only packages/explain): use the modules. tsc -b rewrites a project's tsbuildinfo on
    // every rebuild of it; a package without one (not built) is skipped.
    const packages = path.join(__dirname, '../..');
    for (const name of fs.readdirSync(packages)) {
      let t;
      try {
        t = fs.statSync(path.join(packages, name, 'tsconfig.tsbuildinfo')).mtimeMs;
      } catch {
        continue;
      }
      if (stat.mtimeMs < t) return undefined;
    }
    source = fs.readFileSync(bundle, 'utf8');
  } catch {
    return undefined;
  }
  // The cache is keyed by the bundle's size and mtime and by the V8 version, so a rebuilt bundle or another node
  // never reads a foreign cache (V8 would reject it anyway, at the cost of a read).
  const cacheFile = path.join(
    dist,
    `.ruletrail.bundle.${stat.size}-${Math.round(stat.mtimeMs)}-${process.versions.v8}.v8cache`,
  );
  let cachedData;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData });
  const m = new Module(bundle, module);
  m.filename = bundle;
  m.paths = Module._nodeModulePaths(dist);
  const req = (id) => m.require(id);
  req.resolve = (id) => Module._resolveFilename(id, m);
  script.runInThisContext().call(m.exports, m.exports, req, m, bundle, dist);
  m.loaded = true;
  const saveCache = () => {
    if (cachedData && !script.cachedDataRejected) return;
    try {
      const tmp = `${cacheFile}.${process.pid}`;
      // After the run, so the cache also holds the functions compiled lazily while explaining.
      fs.writeFileSync(tmp, script.createCachedData());
      fs.renameSync(tmp, cacheFile);
    } catch {
      // Read-only install: run without a cache.
    }
  };
  return { main: m.exports.main, saveCache };
}

// Only `explain` (the one-packet query is where start-up counts): the other subcommands load third-party clients
// from dist/ anyway, and would load a second copy of the workspace packages next to the bundle's.
const loaded = process.argv[2] === 'explain' ? loadBundle() : undefined;
const main = loaded ? loaded.main : require('../dist/main.js').main;
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    if (loaded) loaded.saveCache();
  },
  (err) => {
    process.stderr.write(`ruletrail: internal error: ${err && err.stack ? err.stack : String(err)}\n`);
    process.exitCode = 70;
  },
);
