#!/usr/bin/env node
// Committed launcher (with its executable bit) so `npx ruletrail` works right after `npm ci`, whatever mode
// the compiled dist/main.js ends up with.
'use strict';
require('../dist/main.js')
  .main(process.argv.slice(2))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`ruletrail: internal error: ${err && err.stack ? err.stack : String(err)}\n`);
      process.exitCode = 70;
    },
  );
