#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, unit, integration and browser tests.
# Installs what the tests need first (Debian/Ubuntu packages), so a fresh machine with Rust is enough.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use: a C compiler for the bundled SQLite, Chromium and its WebDriver for the
# browser tests.
packages=(gcc pkg-config chromium chromium-driver)
commands=(gcc pkg-config chromium chromedriver)

missing=()
for i in "${!packages[@]}"; do
  command -v "${commands[$i]}" >/dev/null 2>&1 || missing+=("${packages[$i]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --all-targets --locked
