#!/usr/bin/env bash
# Benchmark: the User Interface importing a CSV recipient file (validation and
# de-duplication on) into its internal database (SQLite, WAL, synchronous FULL), against
# the anchor in the same run: the sqlite3 shell's `.import --csv` of the same file into a
# fresh database (the same pragmas) whose table has a UNIQUE email column, so it
# de-duplicates too (it does not validate addresses). Prints rows/s, peak RSS and the
# ratio, at ROWS and at a second size (ROWS/5 by default) to show whether Tutti's memory is
# flat in the file's size.
#
#   bench/import/run.sh [rows=1000000] [second-size=rows/5]
#
# Environment: BENCH_TUTTI=/path/to/tutti uses that binary instead of building one;
# BENCH_TIMEOUT=seconds (default 1800) limits each import; BENCH_POLL=seconds between
# progress polls (default 0.2); BENCH_KEEP=1 keeps the work folder (roots, logs, files,
# the anchor's databases) under /var/tmp; BENCH_PERF=1 records `perf record -g` of the
# tutti process during the import of ROWS (needs perf; the report is left in the work
# folder, which is then kept).
#
# The file has a header email,name,city; about 1% of its rows are exact copies of earlier
# rows and 0.1% have an invalid address (no @). Tutti is timed from the start of the
# upload (the raw file streamed as the request body) to the list's state "ready"; its
# peak RSS is VmHWM of the tutti process (it also runs the Hub), reset through
# /proc/PID/clear_refs just before the upload so that it is the import's peak; the RSS
# before the upload is printed too. Every Tutti run has a fresh root and process. rows/s
# is data rows in the file / seconds on both sides.
#
# Needs: sqlite3, python3, curl (Debian packages), and cargo to build Tutti in release
# mode.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=${1:-1000000}
SECOND=${2:-$((ROWS / 5))}
TIMEOUT=${BENCH_TIMEOUT:-1800}
POLL=${BENCH_POLL:-0.2}
PERF=${BENCH_PERF:-0}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/tutti-target}"
for cmd in sqlite3 python3 curl; do
  command -v "$cmd" >/dev/null || { echo "bench/import needs $cmd (apt-get install sqlite3 python3 curl)"; exit 1; }
done
[ "$PERF" = 1 ] && { command -v perf >/dev/null || { echo "BENCH_PERF=1 needs perf"; exit 1; }; }
if [ -n "${BENCH_TUTTI:-}" ]; then
  TUTTI=$BENCH_TUTTI   # a tutti binary built before (no build now)
else
  cargo build --release -q -p tutti
  TUTTI="$CARGO_TARGET_DIR/release/tutti"
fi
DRIVE="python3 bench/import/drive.py"

work=$(mktemp -d /var/tmp/tutti-bench-import.XXXXXX)
chmod 755 "$work"
keep=${BENCH_KEEP:-0}
[ "$PERF" = 1 ] && keep=1
cleanup() {
  [ -n "${perf_pid:-}" ] && kill -INT "$perf_pid" 2>/dev/null || true
  [ -n "${tutti_pid:-}" ] && kill "$tutti_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ "$keep" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
set_key() { sed -i "s|^$2=.*|$2=$3|" "$1"; }
mib() { python3 -c "print(f'{int(\"$1\")/1024:.0f} MiB')"; }

# start_tutti NAME: Hub and User Interface in $work/NAME, first use done (user anna);
# sets tutti_pid, tutti_url and tutti_root.
start_tutti() {
  local port c
  port=$(free_port)
  tutti_root="$work/$1"
  "$TUTTI" init --root "$tutti_root" --components hub,lui --bind-address 127.0.0.1 --port "$port" \
    --hub-host "127.0.0.1:$port" --tracker-host 127.0.0.1:9 >/dev/null
  set_key "$tutti_root/hub/hub.ini" LogLevel severe
  set_key "$tutti_root/lui/lui.ini" LogLevel severe
  "$TUTTI" serve --root "$tutti_root" 2>"$tutti_root.stderr" &
  tutti_pid=$!
  tutti_url="http://127.0.0.1:$port"
  local deadline=$((SECONDS + 60))
  for c in hub lui; do
    until curl -fs "$tutti_url/$c/health" >/dev/null; do
      kill -0 "$tutti_pid" 2>/dev/null || { echo "tutti serve exited:"; cat "$tutti_root.stderr"; exit 1; }
      [ $SECONDS -lt $deadline ] || { echo "/$c/health did not answer within 60 s"; exit 1; }
      sleep 0.05
    done
  done
  $DRIVE setup "$tutti_url" >/dev/null
}

stop_tutti() {
  kill "$tutti_pid" 2>/dev/null || true
  wait "$tutti_pid" 2>/dev/null || true
  tutti_pid=
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rows=()
row() { rows+=("$(printf '%-22s %9s %8s %10s %10s %9s %9s %9s %10s %7s' "$@")"); }
results=()
declare -A a_rate

# one_size N: generates the file, runs the anchor and Tutti on it, adds rows.
one_size() {
  local n=$1 file="$work/recipients-$1.csv" expect a r rate ratio
  expect=$($DRIVE gen "$file" "$n")
  exp_dups=$(json "$expect" duplicates)
  exp_invalid=$(json "$expect" invalid)

  # --- the anchor: sqlite3 .import ---
  a=$($DRIVE anchor "$work/anchor-$n.db" "$file")
  a_rate[$n]=$(python3 -c "print($n/$(json "$a" seconds))")
  row "sqlite3 .import" "$n" "$(printf %.2f "$(json "$a" seconds)")" "$(printf %.0f "${a_rate[$n]}")" \
    "$(mib "$(json "$a" rss_kb)")" "-" "$(json "$a" rows_in_table)" "-" "$(json "$a" unique_errors)" "1.00x"
  results+=("anchor $n: $a")
  [ "$(json "$a" other_errors)" = 0 ] || echo "warning: sqlite3 printed other errors: $(json "$a" first_other_error)"
  [ "$(json "$a" unique_errors)" = "$exp_dups" ] || echo "warning: sqlite3 counted $(json "$a" unique_errors) duplicates, the file has $exp_dups"

  # --- Tutti ---
  start_tutti "tutti-$n"
  local perf_args=()
  if [ "$PERF" = 1 ] && [ "$n" = "$ROWS" ]; then
    perf record -g -F 499 -p "$tutti_pid" -o "$work/perf-$n.data" 2>"$work/perf-$n.stderr" >/dev/null &
    perf_pid=$!
  fi
  r=$($DRIVE tutti "$tutti_url" "$tutti_pid" "$file" --timeout "$TIMEOUT" --poll "$POLL")
  if [ -n "${perf_pid:-}" ]; then
    kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; perf_pid=
    perf report -i "$work/perf-$n.data" --no-children --percent-limit 1.5 --stdio 2>/dev/null \
      | grep -E '^ +[0-9.]+%' > "$work/perf-$n.top" || true
  fi
  grep -hE ' (WARN|ERROR) ' "$tutti_root"/*/log/*.log "$tutti_root.stderr" 2>/dev/null \
    | grep -vE 'cannot announce|tracker' \
    | sed -E 's/^[0-9T:.-]+Z +//' | sort | uniq -c | sort -rn | head -20 > "$work/tutti-$n.problems" || true
  stop_tutti
  results+=("tutti $n: $r")
  rate=$(python3 -c "print($n/$(json "$r" seconds))")
  ratio=$(python3 -c "print(f'{$rate/${a_rate[$n]}:.2f}x')")
  row "tutti (internal db)" "$n" "$(printf %.2f "$(json "$r" seconds)")" "$(printf %.0f "$rate")" \
    "$(mib "$(json "$r" rss_kb)")" "$(mib "$(json "$r" rss_before_kb)")" \
    "$(json "$r" accepted)" "$(json "$r" rejected)" "$(json "$r" duplicates)" "$ratio"
  [ "$(json "$r" state)" = ready ] || echo "warning: the Tutti import of $n rows ended $(json "$r" state): $(json "$r" failure)"
  [ "$(json "$r" read_rows)" = "$n" ] || echo "warning: Tutti read $(json "$r" read_rows) of $n rows"
  [ "$(json "$r" duplicates)" = "$exp_dups" ] || echo "warning: Tutti counted $(json "$r" duplicates) duplicates, the file has $exp_dups"
  [ "$(json "$r" rejected)" = "$exp_invalid" ] || echo "warning: Tutti rejected $(json "$r" rejected) rows, the file has $exp_invalid invalid"
  [ "$keep" = 1 ] || rm -f "$file" "$work/anchor-$n".db*
}

one_size "$ROWS"
[ "$SECOND" -gt 0 ] && [ "$SECOND" != "$ROWS" ] && one_size "$SECOND"

echo
printf 'import benchmark: CSV email,name,city, ~1%% exact duplicate rows, ~0.1%% invalid addresses; %s cores (load average before: %s)\n' \
  "$(nproc)" "$load_before"
echo "anchor: sqlite3 $(sqlite3 --version | cut -d' ' -f1) shell, fresh db with PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
echo "        CREATE TABLE r(email TEXT UNIQUE, name TEXT, city TEXT); .import --csv --skip 1 (no address validation)"
printf '  %-22s %9s %8s %10s %10s %9s %9s %9s %10s %7s\n' run rows seconds rows/s "peak RSS" "RSS before" accepted rejected duplicates ratio
printf '  %s\n' "${rows[@]}"
for r in "${results[@]}"; do
  python3 - "$r" <<'PY'
import json, sys
label, r = sys.argv[1].split(": ", 1)
r = json.loads(r)
if label.startswith("anchor"):
    print(f"  {label}: sqlite3 CPU {r['cpu_seconds']:.1f} s ({100 * r['cpu_seconds'] / r['seconds']:.0f}% of one core), "
          f"journal_mode {r['journal_mode']}, {r['unique_errors']} 'UNIQUE constraint failed' lines on stderr")
else:
    peak = "VmHWM reset before the upload" if r["peak_reset"] else "VmHWM of the whole process (no reset)"
    print(f"  {label}: upload {r['upload_seconds']:.1f} s of {r['seconds']:.1f} s ({r['bytes'] / 2**20:.0f} MiB), "
          f"tutti CPU {r['tutti_cpu_seconds']:.1f} s ({100 * r['tutti_cpu_seconds'] / r['seconds']:.0f}% of one core), "
          f"read {r['read_rows']}, state {r['state']}; peak RSS: {peak}, "
          f"RSS after {r['rss_after_kb'] / 1024:.0f} MiB")
PY
done
for f in "$work"/*.problems; do
  [ -s "$f" ] && { echo "warnings/errors in the Tutti log ($(basename "$f" .problems)):"; sed 's/^/  /' "$f"; }
done
for f in "$work"/perf-*.top; do
  [ -s "$f" ] && { echo "perf (tutti during the import, self time >= 1.5%):"; sed 's/^/  /' "$f"; }
done
echo "goal: tutti >= 1.0x sqlite3 .import, with peak RSS flat in the file's size"
