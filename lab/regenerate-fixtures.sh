#!/usr/bin/env bash
# Regenerates the committed real-kernel captures in test/fixtures/lab/<scenario>/<channel>/ (run as root).
# Every pass runs in fresh network namespaces; only passes whose capture checks out are written, so a failing
# pass keeps its previous fixture. All five channels (the opt-in nft-monitor too); extra arguments go to the
# lab, e.g. --scenario drift --channel kernel-log.
set -euo pipefail
cd "$(dirname "$0")/.."
bash lab/install.sh
node --require tsx/cjs lab/run.ts --write-fixtures --capture-only --channel all "$@"
echo
echo "Fixtures written to test/fixtures/lab. Replay them without root: npm run lab -- --from-fixtures"
