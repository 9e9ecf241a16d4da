# Shared by the benchmark scripts (bench-backup, bench-track): a throwaway MariaDB on $D with
# socket $SOCK in $W (pid in $PID), cold-cache helpers, and the 4-table data set. Sourced, not
# run; the caller sets W, D, SOCK and PID="" first and stops the server in its EXIT trap.

# Extra mariadbd options for start (e.g. a log size).
BENCH_SERVER_OPTS=${BENCH_SERVER_OPTS:-}
start() {
  mariadbd --no-defaults --user=root --datadir="$D" --socket="$SOCK" --skip-networking \
    --pid-file="$W/pid" --log-error="$W/err" --innodb-buffer-pool-size=256M \
    --innodb-log-file-size=512M --innodb-buffer-pool-dump-at-shutdown=OFF \
    --innodb-buffer-pool-load-at-startup=OFF $BENCH_SERVER_OPTS &
  PID=$!
  for _ in $(seq 600); do
    mariadb-admin --no-defaults -uroot --socket="$SOCK" ping >/dev/null 2>&1 && return
    sleep 0.2
  done
  echo "server did not start"; tail "$W/err"; exit 2
}
stop() { mariadb-admin --no-defaults -uroot --socket="$SOCK" shutdown; wait "$PID"; PID=""; }
sql() { mariadb --no-defaults -uroot --socket="$SOCK" -e "$1"; }
drop_cache() {
  python3 - "$@" <<'PY'
import os, sys
for root in sys.argv[1:]:
    for dp, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(dp, f)
            try:
                fd = os.open(p, os.O_RDONLY)
            except OSError:
                continue
            try:
                os.fdatasync(fd)  # dirty pages cannot be dropped
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
PY
}
secs() { python3 -c "import time; print(time.time())"; }
load() { echo "   load: $(cut -d' ' -f1-3 /proc/loadavg); rustc running: $(pgrep -c rustc || true)"; }
# Whole-disk traffic (MiB read and written) since the last call: reads well above the data
# files' size, or large writes, mean that something else used the disk during the run.
DEV=$(lsblk -no PKNAME "$(df --output=source /tmp | tail -1)" 2>/dev/null || true)
DEV=${DEV:-$(basename "$(df --output=source /tmp | tail -1)")}
DISK_LAST=""
disk() {
  local now
  now=$(awk '{print $3, $7}' "/sys/class/block/$DEV/stat" 2>/dev/null || echo "0 0")
  if [ -n "$DISK_LAST" ]; then
    python3 -c "a='$DISK_LAST'.split(); b='$now'.split(); \
print(f'   disk during the run: {(int(b[0])-int(a[0]))/2048:.0f} MiB read, {(int(b[1])-int(a[1]))/2048:.0f} MiB written')"
  fi
  DISK_LAST=$now
}


# A new datadir with 4 tables of ~1 KB rows, $1 GB in all (server left running); sets ROWS.
make_tables() {
  rm -rf "${D:?}"
  mariadb-install-db --no-defaults --datadir="$D" --user=root --skip-test-db >/dev/null
  start
  ROWS=$(python3 -c "print(int($1 * 1e9 / 4 / 1050))")
  echo "== loading 4 tables x $ROWS rows of ~1 KB"
  sql "CREATE DATABASE b"
  for i in 1 2 3 4; do
    sql "USE b; CREATE TABLE b.t$i (id INT PRIMARY KEY, v VARCHAR(1000)) ENGINE=InnoDB;
         INSERT INTO b.t$i SELECT seq, REPEAT(CHAR(65 + seq % 26), 1000) FROM seq_1_to_$ROWS;"
  done
  du -sh "$D/b"
}
