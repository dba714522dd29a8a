#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, unit, integration and browser tests.
# Installs what the tests need first (Debian/Ubuntu packages), so a fresh machine with Rust is enough.
set -euo pipefail
cd "$(dirname "$0")/.."

# What the tests need: "<Debian package> <command or file that shows it is there>", one per line.
needs=(
  "gcc /usr/bin/gcc"                # C compiler for the bundled SQLite
  "libc6-dev /usr/include/stdio.h"  # C headers and start files (gcc only recommends them)
  "pkg-config /usr/bin/pkg-config"
  "chromium /usr/bin/chromium"      # browser tests
  "chromium-driver /usr/bin/chromedriver"
  "python3-venv /usr/share/doc/python3-venv"  # a virtual environment for openapi-spec-validator
  "lintian /usr/bin/lintian"        # tests/packages.rs: the .deb's checks
  "rpm /usr/bin/rpm"                # tests/packages.rs: reads the .rpm
  "rpmlint /usr/bin/rpmlint"        # tests/packages.rs: the .rpm's checks
  "systemd /usr/bin/systemd-analyze"  # tests/packages.rs: the unit's exposure level
  "adduser /usr/sbin/adduser"       # the .deb's postinst, installed by tests/packages.rs
  "procps /usr/bin/pgrep"           # tests/packages.rs: which processes the service user runs
  "npm /usr/bin/npm"                # tests/browser_layout.rs: installs axe-core
)

missing=()
for need in "${needs[@]}"; do
  read -r package probe <<<"$need"
  [ -e "$probe" ] || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing with apt: ${missing[*]}"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "not root and no sudo: install ${missing[*]} first" >&2; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  echo "== installing rustfmt and clippy"
  rustup component add rustfmt clippy
fi

# openapi-spec-validator (PyPI), which tests/api_openapi.rs runs on the served OpenAPI document: in a
# virtual environment under the target directory, where that test looks for it.
target_dir="${CARGO_TARGET_DIR:-target}"
venv="$target_dir/openapi-venv"
if [ ! -x "$venv/bin/openapi-spec-validator" ]; then
  echo "== installing openapi-spec-validator into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet openapi-spec-validator
fi
export OPENAPI_SPEC_VALIDATOR="$(cd "$venv/bin" && pwd)/openapi-spec-validator"

# Stripe's own Python library (PyPI `stripe`), which tests/billing_stripe.rs uses to prove that its stand-in
# signs webhooks as Stripe does: in its own virtual environment under the target directory, where that test
# looks for it.
stripe_venv="$target_dir/stripe-venv"
if ! "$stripe_venv/bin/python" -c "import stripe" >/dev/null 2>&1; then
  echo "== installing Stripe's Python library into $stripe_venv"
  python3 -m venv "$stripe_venv"
  "$stripe_venv/bin/pip" install --quiet stripe
fi
export STRIPE_PYTHON="$(cd "$stripe_venv/bin" && pwd)/python"

# Prometheus's own Python client (PyPI `prometheus-client`), whose OpenMetrics parser tests/metrics.rs runs on
# what /metrics serves: in its own virtual environment under the target directory, where that test looks
# for it.
prometheus_venv="$target_dir/prometheus-venv"
if ! "$prometheus_venv/bin/python" -c "import prometheus_client" >/dev/null 2>&1; then
  echo "== installing Prometheus's Python client into $prometheus_venv"
  python3 -m venv "$prometheus_venv"
  "$prometheus_venv/bin/pip" install --quiet prometheus-client
fi
export PROMETHEUS_PYTHON="$(cd "$prometheus_venv/bin" && pwd)/python"

# axe-core (npm), which tests/browser_layout.rs runs inside Chromium on the main pages: one pinned version
# under the target directory, where that test finds it through AXE_CORE_JS.
axe_version="4.14.1"
axe_dir="$target_dir/axe"
axe_js="$axe_dir/node_modules/axe-core/axe.min.js"
axe_installed() {
  node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).version)' \
    "$axe_dir/node_modules/axe-core/package.json" 2>/dev/null || true
}
if [ ! -f "$axe_js" ] || [ "$(axe_installed)" != "$axe_version" ]; then
  command -v npm >/dev/null 2>&1 || { echo "npm is missing: install Node.js and npm (Debian: apt-get install npm)" >&2; exit 1; }
  echo "== installing axe-core $axe_version into $axe_dir"
  mkdir -p "$axe_dir"
  npm install --silent --no-audit --no-fund --prefix "$axe_dir" "axe-core@$axe_version"
fi
export AXE_CORE_JS="$(cd "$(dirname "$axe_js")" && pwd)/axe.min.js"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

# The .deb and .rpm that tests/packages.rs inspects and installs: one release build (cargo's cache makes
# it quick when nothing changed), cargo-deb and cargo-generate-rpm installed into ~/.cargo/bin once.
echo "== packaging/build.sh"
packaging/build.sh

echo "== cargo test"
cargo test --all-targets --locked --no-fail-fast

echo "== all tests passed"
