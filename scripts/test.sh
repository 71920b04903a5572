#!/usr/bin/env bash
# Runs every ViaWork test: formatting, lints, unit tests, RFC 4475, simulated-network
# tests, the interop tests against real SIP peers on loopback (SIPp, sipsak, OpenSSL),
# the browser client in headless Chromium (tests/web, crates/viawork/tests/web_client.rs),
# and a bounded fuzzing run of the parsers.
# Installs the peers from Debian's packages when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v sipp >/dev/null 2>&1 || need_pkgs+=(sip-tester)
command -v sipsak >/dev/null 2>&1 || need_pkgs+=(sipsak)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
# The lab PBX (crates/viawork/src/lab): Kamailio as registrar and router, baresip phones.
# Both live in sbin/bin directories that a non-root PATH may lack.
command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ] || need_pkgs+=(kamailio)
command -v baresip >/dev/null 2>&1 || need_pkgs+=(baresip-core)
# PostgreSQL for the store tests (they start a private cluster on loopback themselves).
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1 || need_pkgs+=(postgresql)
# The browser client's tests: Debian's Chromium driven by playwright-core under Node.js.
[ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
command -v node >/dev/null 2>&1 || need_pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || need_pkgs+=(npm)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_pkgs[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${need_pkgs[@]}"
fi
for tool in sipp sipsak openssl baresip chromium node npm; do
  command -v "$tool" >/dev/null 2>&1 || { echo "test.sh: $tool is required and could not be installed" >&2; exit 1; }
done
command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ] || { echo "test.sh: kamailio is required and could not be installed" >&2; exit 1; }

# playwright-core for tests/web, as pinned in its package-lock.json (no browser download:
# the tests drive /usr/bin/chromium).
if [ ! -f tests/web/node_modules/.package-lock.json ] \
   || [ tests/web/package-lock.json -nt tests/web/node_modules/.package-lock.json ]; then
  echo "test.sh: npm ci in tests/web"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/web --no-audit --no-fund
fi

echo "== web client unit tests (node --test)"
node --test tests/web/format.test.mjs
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
cargo test --workspace --quiet 2>&1 | tee "$out"
# Fail on a run that executed no test at all.
grep -Eq 'test result: ok\. [1-9][0-9]* passed' "$out"
echo "== fuzz (bounded: ${FUZZ_SECONDS:-30}s per target)"
FUZZ_SECONDS="${FUZZ_SECONDS:-30}" scripts/fuzz.sh
