#!/usr/bin/env bash
# CI for web/: installs from the lockfile, type-checks, tests, rebuilds, and fails when the committed
# build (dist/, the dashboard the Go module embeds, and lib/, the React package) differs from it.
set -euo pipefail
cd "$(dirname "$0")"
start=$SECONDS

echo "== web: node $(node --version), npm $(npm --version)"
echo "== web: npm ci"
npm ci --no-audit --no-fund
echo "== web: npm run check"
npm run check
echo "== web: npm test"
npm test
echo "== web: npm run build"
npm run build

echo "== web: the committed build matches a fresh one"
changed=$(git status --porcelain --untracked-files=all -- dist lib)
if [ -n "$changed" ]; then
  echo "$changed"
  git --no-pager diff --stat -- dist lib
  echo "web/dist or web/lib differs from a fresh build: run 'npm run build' in web/ and commit the result." >&2
  exit 1
fi
echo "== web: passed in $((SECONDS - start)) s"
