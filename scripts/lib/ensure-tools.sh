# Shared by the scripts in scripts/: install what a fresh machine lacks.
# Sourced, not run.

ensure_rust_components() {
  local c
  for c in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^$c"; then
      echo "installing rust component $c" >&2
      rustup component add "$c"
    fi
  done
}

# MariaDB server, client and mariabackup from Debian's packages, without starting the system
# service (tests start their own throwaway servers).
ensure_mariadb() {
  local c missing=
  for c in mariadbd mariadb-install-db mariadb mariadb-admin mariabackup; do
    command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || missing+=" $c"
  done
  [ -z "$missing" ] && return 0
  echo "missing:$missing; installing MariaDB from the Debian packages" >&2
  local sudo= guard= rc=0
  if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d; guard=1
  fi
  { $sudo apt-get update -q &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      mariadb-server mariadb-client mariadb-backup; } || rc=$?
  [ -z "$guard" ] || $sudo rm -f /usr/sbin/policy-rc.d
  return "$rc"
}

# MariaDB's own test runner and its suites (mariadb-test-run, the mariabackup suite) from
# Debian's mariadb-test package, for scripts/mtr-suite; the same version as the server.
MARIADB_TEST_DIR=/usr/share/mysql/mysql-test
ensure_mariadb_test() {
  ensure_mariadb || return
  [ -x "$MARIADB_TEST_DIR/mariadb-test-run" ] && [ -d "$MARIADB_TEST_DIR/suite/mariabackup" ] &&
    return 0
  echo "mariadb-test missing; installing it from the Debian packages" >&2
  local sudo= guard= rc=0
  if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d; guard=1
  fi
  { $sudo apt-get update -q &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      mariadb-test; } || rc=$?
  [ -z "$guard" ] || $sudo rm -f /usr/sbin/policy-rc.d
  return "$rc"
}

ensure_nightly_and_cargo_fuzz() {
  rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
  command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
}

# cargo-deb builds the Debian package (scripts/build-deb).
ensure_cargo_deb() {
  command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --version "~3.8" --locked
}

# systemd-analyze checks the package's units (scripts/check-deb); containers may lack systemd.
ensure_systemd_analyze() {
  command -v systemd-analyze >/dev/null 2>&1 && return 0
  local sudo=
  if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
  echo "systemd-analyze missing; installing the systemd package" >&2
  $sudo apt-get update -q &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends systemd
}

# openssl makes encrypted key files in the tests, as a DBA makes them (innodb-page/tests/crypto.rs).
ensure_openssl() {
  command -v openssl >/dev/null 2>&1 && return 0
  local sudo=
  if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
  $sudo apt-get update -q &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openssl
}

# zstd, lz4 and age decode xb's compressed and encrypted backups in the tests, as a DBA decodes
# them without xb (incremental-core/tests/codec.rs, xb-cli/tests/codec_cli.rs); age-keygen makes
# the test keys.
ensure_codec_tools() {
  local c missing=
  for c in zstd lz4 age age-keygen; do
    command -v "$c" >/dev/null 2>&1 || missing+=" $c"
  done
  [ -z "$missing" ] && return 0
  local sudo=
  if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
  echo "missing:$missing; installing zstd, lz4 and age from the Debian packages" >&2
  $sudo apt-get update -q &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      zstd lz4 age
}

# moto's server mode: an S3-protocol server on 127.0.0.1 for the repository tests
# (xb_testkit::s3, incremental-core/tests/repo_store.rs), from PyPI in a venv of its own.
# The test kit finds it at $XB_MOTO_VENV/bin/moto_server (default: the path below).
MOTO_VERSION=5.2.6
ensure_s3_server() {
  local venv=${XB_MOTO_VENV:-$HOME/.cache/xb/moto-venv}
  if [ -x "$venv/bin/moto_server" ] &&
    [ "$(cat "$venv/.xb-moto-version" 2>/dev/null)" = "$MOTO_VERSION" ]; then
    return 0
  fi
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    local sudo=
    if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
    echo "python3 venv missing; installing python3-venv from the Debian packages" >&2
    $sudo apt-get update -q &&
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        python3-venv || return
  fi
  echo "installing moto[server]==$MOTO_VERSION (PyPI) into $venv" >&2
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv" &&
    "$venv/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" &&
    [ -x "$venv/bin/moto_server" ] &&
    echo "$MOTO_VERSION" >"$venv/.xb-moto-version"
}

# sysbench (Debian's 1.0.20) is the write load of the soak campaign (scripts/soak).
ensure_sysbench() {
  command -v sysbench >/dev/null 2>&1 && return 0
  local sudo=
  if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
  echo "sysbench missing; installing it from the Debian packages" >&2
  $sudo apt-get update -q &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends sysbench
}
