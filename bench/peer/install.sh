#!/usr/bin/env bash
# Installs the bench peer (bench/peer: package.json + peer.mjs) into .local/bench-peer, git-ignored, and prints that
# directory. npm runs without a lockfile (--no-package-lock), so nothing in the repository names a registry host; the
# version is pinned in package.json. Reinstalls only when package.json changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SRC="$ROOT/bench/peer"
DIR="$ROOT/.local/bench-peer"
mkdir -p "$DIR"
cp "$SRC/peer.mjs" "$DIR/peer.mjs"
if ! cmp -s "$SRC/package.json" "$DIR/package.json" || [[ ! -f "$DIR/node_modules/oidc-provider/package.json" ]]; then
  cp "$SRC/package.json" "$DIR/package.json"
  (cd "$DIR" && npm install --no-package-lock --no-audit --no-fund --loglevel=error >&2)
fi
echo "$DIR"
