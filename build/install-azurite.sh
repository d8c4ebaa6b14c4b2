#!/usr/bin/env bash
# Installs Azurite (the Azure Storage emulator) for the remote-cache tests into
# .artifacts/azurite (git-ignored), pinned, and prints the path of its blob server script.
# Installs Node.js and npm from Debian when npm is missing. Idempotent: a matching install is reused.
# Azurite 3.35.0 is the newest release that still runs on Debian 12's Node.js 18 (3.36+ need Node 21+).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/build/common.sh"
version=3.35.0
target="$root/.artifacts/azurite"
entry="$target/node_modules/azurite/dist/src/blob/main.js"

if [ -f "$entry" ] && [ "$(cat "$target/version" 2>/dev/null)" = "$version" ]; then
  echo "$entry"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "installing nodejs and npm (apt)" >&2
  apt_install nodejs npm >&2
fi
rm -rf "$target"
mkdir -p "$target"
echo '{ "name": "mbt-azurite", "private": true }' > "$target/package.json"
# --ignore-scripts: Azurite needs no install scripts, and none of its dependencies' should run.
npm install --prefix "$target" --no-audit --no-fund --ignore-scripts --loglevel=error "azurite@$version" >&2
[ -f "$entry" ] || { echo "error: Azurite $version installed without $entry" >&2; exit 1; }
echo "$version" > "$target/version"
echo "$entry"
