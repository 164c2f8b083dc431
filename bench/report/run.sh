#!/usr/bin/env bash
# Benchmark: the report page's server time for a job of 1M recipients and 5M tracking
# events, in the User Interface's internal database (SQLite) and in PostgreSQL, against the
# anchor in the same run: a plain `SELECT kind, count(*) FROM tracking_events WHERE job_id
# = ... GROUP BY kind` over the raw events table, timed by the database's own shell
# (sqlite3 `.timer on`, psql `\timing`). Prints both and the ratio report / anchor (smaller
# is better: below 1.0x the report is faster than one plain count over the raw events).
#
#   bench/report/run.sh [recipients=1000000] [events=5000000] [requests=10]
#
# Environment: BENCH_TUTTI=/path/to/tutti uses that binary instead of building one;
# BENCH_DBS="internal postgresql" (default both) chooses the runs; BENCH_PG_URL=postgres://
# a role that may create databases (default: the URL scripts/test-postgres prints; the
# benchmark creates database tutti_bench_report there and drops it at the end);
# BENCH_KEEP=1 keeps the work folder (roots, logs, SQL) under /var/tmp and the PostgreSQL
# database.
#
# Each run: a fresh installation with all components (hub,lui,trk,mailer) sends a real
# 3-recipient job with one tracked link (no SMTP relay: the Mailer writes into its
# outbox) until it is completed, so the job has everything a report reads. Tutti is
# stopped; the job's sent recipients, delivery and tracking events are replaced in bulk
# (RECIPIENTS recipients with one 'sent' each; EVENTS events: 59% opens, 40% clicks on
# links 0..9, 1% unsubscribes, 20% from a 'proxy' machine, over 48 hours; see drive.py
# for the exact mix), and the job's report aggregates (report_counts, report_reactors)
# rebuilt with the statements of migration 0010_report_aggregates.sql restricted to the
# job, i.e. what the event import keeps up to date. Tutti is started again and
# GET /lui/api/jobs/{id}/report?people_only=true and =false are requested once to warm up,
# then REQUESTS times each; the time is the loopback HTTP round trip measured by the
# client (a fresh connection each; on loopback ~ the server time, it includes the session
# check and the job and message look-ups). The anchor is run 3 times; its median is used.
#
# Needs: sqlite3 (with generate_series: the Debian shell has it), psql, python3, curl
# (Debian packages), a PostgreSQL server for the postgresql run (scripts/test-postgres
# makes one), and cargo to build Tutti in release mode.
set -euo pipefail
cd "$(dirname "$0")/../.."
RECIPIENTS=${1:-1000000}
EVENTS=${2:-5000000}
REQUESTS=${3:-10}
DBS=${BENCH_DBS:-internal postgresql}
PG_DB=tutti_bench_report
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/tutti-target}"
for cmd in sqlite3 python3 curl; do
  command -v "$cmd" >/dev/null || { echo "bench/report needs $cmd (apt-get install sqlite3 python3 curl)"; exit 1; }
done
case " $DBS " in *" postgresql "*)
  command -v psql >/dev/null || { echo "bench/report needs psql for the postgresql run (apt-get install postgresql-client)"; exit 1; } ;;
esac
if [ -n "${BENCH_TUTTI:-}" ]; then
  TUTTI=$BENCH_TUTTI   # a tutti binary built before (no build now)
else
  cargo build --release -q -p tutti
  TUTTI="$CARGO_TARGET_DIR/release/tutti"
fi
DRIVE="python3 bench/report/drive.py"
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

work=$(mktemp -d /var/tmp/tutti-bench-report.XXXXXX)
chmod 755 "$work"
keep=${BENCH_KEEP:-0}
pg_admin_url=
cleanup() {
  [ -n "${tutti_pid:-}" ] && kill "$tutti_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "$pg_admin_url" ] && [ "$keep" != 1 ]; then
    psql "$pg_admin_url" -qX -c "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
  fi
  if [ "$keep" = 1 ]; then echo "kept $work${pg_admin_url:+ and database $PG_DB}"; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]); [v := v[k] for k in sys.argv[2:]]; print(v)' "$@"; }
set_key() { sed -i "s|^$2=.*|$2=$3|" "$1"; }
now() { date +%s.%N; }
since() { python3 -c "print(f'{$(now) - $1:.1f}')"; }

# start_tutti: serves $tutti_root on $tutti_port; sets tutti_pid and tutti_url.
start_tutti() {
  local c deadline=$((SECONDS + 60))
  "$TUTTI" serve --root "$tutti_root" 2>>"$tutti_root.stderr" &
  tutti_pid=$!
  tutti_url="http://127.0.0.1:$tutti_port"
  for c in hub lui trk mailer; do
    until curl -fs "$tutti_url/$c/health" >/dev/null; do
      kill -0 "$tutti_pid" 2>/dev/null || { echo "tutti serve exited:"; tail -20 "$tutti_root.stderr"; exit 1; }
      [ $SECONDS -lt $deadline ] || { echo "/$c/health did not answer within 60 s"; exit 1; }
      sleep 0.05
    done
  done
}

stop_tutti() {
  kill -TERM "$tutti_pid" 2>/dev/null || true
  wait "$tutti_pid" 2>/dev/null || true
  tutti_pid=
}

# median of the numbers on standard input
median() { python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.stdin.read().split()))'; }

# anchor_internal DB JOB / anchor_postgresql URL JOB: prints the median ms of 3 runs.
ANCHOR="SELECT kind, count(*) FROM tracking_events WHERE job_id = '%s' GROUP BY kind;"
anchor_internal() {
  local q i
  q=$(printf "$ANCHOR" "$2")
  # .timer prints on standard output, in whole milliseconds.
  { echo ".timer on"; for i in 1 2 3; do echo "$q"; done; } | sqlite3 -bail "$1" 2>&1 \
    | tee "$work/anchor-internal.out" | sed -n 's/^Run Time: real \([0-9.]*\).*/\1/p' \
    | python3 -c 'import statistics,sys; print(1000 * statistics.median(float(x) for x in sys.stdin.read().split()))'
}
anchor_postgresql() {
  local q i
  q=$(printf "$ANCHOR" "$2")
  { echo '\timing on'; for i in 1 2 3; do echo "$q"; done; } | psql "$1" -X -v ON_ERROR_STOP=1 2>&1 \
    | tee "$work/anchor-postgresql.out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | median
}

rows=()
results=()

# one_db internal|postgresql
one_db() {
  local db=$1 setup t0 job load_s anchor r ratio_p ratio_a sqlfile dburl=
  tutti_port=$(free_port)
  tutti_root="$work/$db"
  "$TUTTI" init --root "$tutti_root" --components hub,lui,trk,mailer --bind-address 127.0.0.1 \
    --port "$tutti_port" >/dev/null
  for ini in hub/hub.ini lui/lui.ini trk/tracker.ini mailer/mailer.ini; do set_key "$tutti_root/$ini" LogLevel severe; done
  set_key "$tutti_root/mailer/mailer.ini" DistributeClients lui@shop.example
  set_key "$tutti_root/mailer/mailer.ini" DistributePassword distribute-pw
  if [ "$db" = postgresql ]; then
    if [ -z "$pg_admin_url" ]; then
      pg_admin_url=${BENCH_PG_URL:-$(scripts/test-postgres)}
      psql "$pg_admin_url" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB" >/dev/null
    fi
    dburl="${pg_admin_url%/*}/$PG_DB"
    set_key "$tutti_root/lui/lui.ini" DatabaseType postgresql
    set_key "$tutti_root/lui/lui.ini" DatabaseUrl "$dburl"
  fi

  echo "[$db] sending a 3-recipient job ..." >&2
  start_tutti
  $DRIVE setup "$tutti_url" "$tutti_port" >/dev/null
  job=$($DRIVE job "$tutti_url" --timeout 120)
  job=$(json "$job" job)
  stop_tutti

  echo "[$db] loading $RECIPIENTS recipients and $EVENTS events into job $job ..." >&2
  sqlfile="$work/load-$db.sql"
  $DRIVE sql "$([ "$db" = internal ] && echo sqlite || echo postgres)" "$job" "$RECIPIENTS" "$EVENTS" \
    "$(date +%s000)" >"$sqlfile"
  t0=$(now)
  if [ "$db" = internal ]; then
    sqlite3 -bail "$tutti_root/lui/database/lui.sqlite" <"$sqlfile" >"$work/load-$db.out"
  else
    psql "$dburl" -qX -v ON_ERROR_STOP=1 -f "$sqlfile" >"$work/load-$db.out"
  fi
  load_s=$(since "$t0")
  if [ "$db" = postgresql ]; then
    # What autovacuum would do after such a load: fresh statistics and visibility map.
    t0=$(now)
    psql "$dburl" -qX -v ON_ERROR_STOP=1 \
      -c "VACUUM ANALYZE sent_recipients, tracking_events, delivery_events, report_counts, report_reactors" >/dev/null
    results+=("$db: load $load_s s (one transaction, 0010 aggregates included), then VACUUM ANALYZE $(since "$t0") s")
  else
    results+=("$db: load $load_s s (one transaction, 0010 aggregates included)")
  fi

  echo "[$db] timing the report ..." >&2
  start_tutti
  r=$($DRIVE time "$tutti_url" "$job" "$REQUESTS")
  if [ "$db" = internal ]; then
    anchor=$(anchor_internal "$tutti_root/lui/database/lui.sqlite" "$job")
  else
    anchor=$(anchor_postgresql "$dburl" "$job")
  fi
  stop_tutti
  results+=("$db: report figures (people only): $(json "$r" figures_people)")
  results+=("$db: report figures (all):         $(json "$r" figures_all)")
  results+=("$db: report ms people_only=true: $(json "$r" people all); =false: $(json "$r" all all)")
  results+=("$db: anchor output: $(grep -v '^Run Time\|^Time\|^Timing' "$work/anchor-$db.out" | tr -s ' \n' ' ' | head -c 300)")
  ratio_p=$(python3 -c "print(f'{$(json "$r" people median)/$anchor:.2f}x')")
  ratio_a=$(python3 -c "print(f'{$(json "$r" all median)/$anchor:.2f}x')")
  rows+=("$(printf '%-12s %10.1f %8.1f %10.1f %8.1f %11.1f %8s %8s' "$db" \
    "$(json "$r" people median)" "$(json "$r" people max)" "$(json "$r" all median)" "$(json "$r" all max)" \
    "$anchor" "$ratio_p" "$ratio_a")")
  grep -hE ' (WARN|ERROR) ' "$tutti_root"/*/log/*.log "$tutti_root.stderr" 2>/dev/null \
    | grep -v 'no SMTP relay is configured' \
    | sed -E 's/^[0-9T:.-]+Z +//' | sort | uniq -c | sort -rn | head -10 >"$work/$db.problems" || true
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for db in $DBS; do one_db "$db"; done

echo
printf 'report benchmark: %s sent recipients, %s tracking events (59%% open, 40%% click, 1%% unsubscribe, 20%% proxy); %s cores (load average before: %s)\n' \
  "$RECIPIENTS" "$EVENTS" "$(nproc)" "$load_before"
echo "report: GET /lui/api/jobs/{id}/report, 1 warm-up + $REQUESTS requests each, loopback round trip (~ server time)"
echo "anchor: SELECT kind, count(*) FROM tracking_events WHERE job_id = ? GROUP BY kind (sqlite3 .timer / psql \\timing, median of 3)"
echo "ratio: report median / anchor (smaller is better; < 1.0x = faster than one plain count of the raw events)"
printf '  %-12s %10s %8s %10s %8s %11s %8s %8s\n' database "people med" max "all med" max "anchor ms" "ratio p" "ratio a"
printf '  %s\n' "${rows[@]}"
printf '  %s\n' "${results[@]}"
for f in "$work"/*.problems; do
  [ -s "$f" ] && { echo "warnings/errors in the Tutti log ($(basename "$f" .problems)):"; sed 's/^/  /' "$f"; }
done
echo "goal: report < 300 ms of server time"
