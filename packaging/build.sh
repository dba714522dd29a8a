#!/usr/bin/env bash
# Builds WhatsAPI Pro's .deb and .rpm into <target>/packages/ and prints their paths and sizes.
#
#   packaging/build.sh [--revision N] [--no-build] [--output DIR]
#
#   --revision N   the package's revision (Debian revision, RPM release), default 1 or
#                  $WHATSAPI_PACKAGE_REVISION: the same version packaged again, e.g. to test an upgrade
#   --no-build     package the release binary already built (fails when there is none)
#   --output DIR   where the packages go (default <target>/packages)
#
# Installs cargo-deb and cargo-generate-rpm (cargo install --locked) when they are missing, builds the
# release binary once (cargo build --release --locked), has it write the manual page, the shell completions
# and the default configuration (`whatsapi package-files`), makes the Debian changelog from CHANGELOG.md, and
# packages the same binary twice. Respects CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

revision="${WHATSAPI_PACKAGE_REVISION:-1}"
build=yes
output=""
while [ $# -gt 0 ]; do
  case "$1" in
    --revision) revision="$2"; shift 2 ;;
    --no-build) build=no; shift ;;
    --output) output="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$revision" in
  ''|*[!0-9a-z.+~]*) echo "build.sh: the revision must be letters, digits, '.', '+' or '~', not '$revision'" >&2; exit 2 ;;
esac

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target"
target="$(cd "$target" && pwd)"
output="${output:-$target/packages}"

# The versions these packages were checked with (lintian, rpmlint, tests/packages.rs). Installed together,
# into one build directory under the target directory, so the crates they share are compiled once.
missing=()
command -v cargo-deb >/dev/null 2>&1 || missing+=(cargo-deb@3.8.0)
command -v cargo-generate-rpm >/dev/null 2>&1 || missing+=(cargo-generate-rpm@0.21.1)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  cargo install --locked --target-dir "$target/packaging-tools" "${missing[@]}"
fi

if [ "$build" = yes ]; then
  echo "== cargo build --release --locked"
  cargo build --release --locked
fi
binary="$target/release/whatsapi"
[ -x "$binary" ] || { echo "build.sh: no release binary at $binary; run without --no-build" >&2; exit 1; }
version="$("$binary" --version | awk '{print $2}')"

# What the packages ship besides the binary, made by the binary itself, under target/release/ where the
# asset paths of Cargo.toml ("target/release/package-files/...") point both tools.
staging="$target/release/package-files"
rm -rf "$staging"
"$binary" package-files "$staging" >/dev/null
gzip -9n "$staging"/man/*.1

# The Debian changelog, from CHANGELOG.md: one entry per "## [version] - date", its bullets as items. The
# newest entry carries this package's revision.
maintainer="$(sed -n 's/^maintainer = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
awk -v package=whatsapi -v revision="$revision" -v maintainer="$maintainer" '
  # Prints one item wrapped at 76 columns: "  * " on its first line, four spaces on the next ones.
  function print_item(text,   words, n, i, line) {
    n = split(text, words, / +/)
    line = ""
    for (i = 1; i <= n; i++) {
      if (line != "" && length(line) + 1 + length(words[i]) > 72) {
        print (printed ? "    " : "  * ") line
        printed = 1
        line = words[i]
      } else {
        line = (line == "" ? words[i] : line " " words[i])
      }
    }
    if (line != "") print (printed ? "    " : "  * ") line
    printed = 0
  }
  function flush_item() {
    if (item != "") { print_item(item); item = "" }
  }
  function flush_entry(   cmd, stamp) {
    flush_item()
    if (entry_version == "") return
    print ""
    cmd = "LC_ALL=C date -u -R -d " entry_date
    cmd | getline stamp
    close(cmd)
    print " -- " maintainer "  " stamp
    print ""
    entries++
    entry_version = ""
  }
  /^## \[[0-9]/ {
    flush_entry()
    entry_version = $2; gsub(/[][]/, "", entry_version)
    entry_date = $4
    if (entry_date !~ /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$/) {
      print "CHANGELOG.md: " entry_version " has no date (## [x.y.z] - YYYY-MM-DD)" > "/dev/stderr"
      exit 1
    }
    print package " (" entry_version "-" (entries == 0 ? revision : 1) ") stable; urgency=medium"
    print ""
    next
  }
  entry_version == "" { next }
  /^- / { flush_item(); item = substr($0, 3); next }
  /^  +[^ ]/ && item != "" { line = $0; sub(/^ +/, "", line); item = item " " line; next }
  /^$/ || /^#/ { flush_item(); next }
  END { flush_entry() }
' CHANGELOG.md > "$staging/changelog.Debian"
[ -s "$staging/changelog.Debian" ] || { echo "build.sh: CHANGELOG.md has no release entry" >&2; exit 1; }
gzip -9n "$staging/changelog.Debian"

mkdir -p "$output"
echo "== cargo deb (revision $revision)"
cargo deb --no-build --locked --deb-revision "$revision" --output "$output" >/dev/null
echo "== cargo generate-rpm (release $revision)"
cargo generate-rpm --target-dir "$target" --set-metadata "release = \"$revision\"" --output "$output" >/dev/null

arch_deb="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
arch_rpm="$(uname -m)"
echo "== packages"
for package in "$output/whatsapi_${version}-${revision}_${arch_deb}.deb" "$output/whatsapi-${version}-${revision}.${arch_rpm}.rpm"; do
  [ -f "$package" ] || { echo "build.sh: $package was not written" >&2; exit 1; }
  printf '%s\t%s bytes\n' "$package" "$(stat -c %s "$package")"
done
