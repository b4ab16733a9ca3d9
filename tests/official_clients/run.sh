#!/usr/bin/env bash
# Runs the official PortOne JS SDK and the official iamport Python client, unchanged, against the
# kr-payments-sandbox binary, and prints "N passed, N failed". Run from anywhere; needs cargo,
# node/npm (20) and python3 (3.11) with network access to the npm registry and PyPI.
# Installs go to target/official-clients/, outside the source tree.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/tests/official_clients"
work="$root/target/official-clients"
mkdir -p "$work"

cargo build --quiet --manifest-path "$root/Cargo.toml" --features sandbox --bin kr-payments-sandbox
bin="${CARGO_TARGET_DIR:-$root/target}/debug/kr-payments-sandbox"

# Official PortOne JS SDK, at the version the lock file pins.
mkdir -p "$work/portone-js"
cp "$here/portone-js/package.json" "$here/portone-js/package-lock.json" "$here/portone-js/refund_story.mjs" "$work/portone-js/"
(cd "$work/portone-js" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

# Official iamport Python client, pinned, in its own virtual environment.
if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv"
fi
"$work/venv/bin/pip" install --disable-pip-version-check --quiet -r "$here/iamport-python/requirements.txt"

out="$work/sandbox.out"
"$bin" --seed "$here/seed.json" >"$out" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q '^ready$' "$out" && break
  kill -0 "$pid" 2>/dev/null || { cat "$out"; echo "the sandbox did not start"; exit 1; }
  sleep 0.1
done
grep -q '^ready$' "$out" || { cat "$out"; echo "the sandbox did not get ready"; exit 1; }
origin() { grep "^origin $1 " "$out" | cut -d' ' -f3; }

status=0
(cd "$work/portone-js" && node refund_story.mjs "$(origin portone-v2)") | tee "$work/portone-js.log" || status=1
"$work/venv/bin/python" "$here/iamport-python/refund_story.py" "$(origin iamport)/" | tee "$work/iamport-python.log" || status=1

passed=$(cat "$work/portone-js.log" "$work/iamport-python.log" | grep -c '^ok ' || true)
failed=$(cat "$work/portone-js.log" "$work/iamport-python.log" | grep -c '^FAIL ' || true)
echo "official clients: $passed passed, $failed failed"
if [ "$failed" -ne 0 ] || [ "$status" -ne 0 ]; then
  exit 1
fi
