#!/usr/bin/env bash
# Benchmark: the Mailer sending a personalised job (merge fields, a conditional block, 10
# tracked links, HTML and text) into Postfix's smtp-sink, without and with DKIM (a fresh
# RSA-2048 key), against the anchor in the same run: Postfix's smtp-source -d (each session
# reuses its connection, as a pool does) sending the same number of fixed messages of the
# same size over the same number of sessions to the same sink. Prints messages/s, peak RSS
# and the ratio to smtp-source.
#
#   bench/mailer/run.sh [recipients=100000] [sessions=4]
#   BENCH_RSS_ONLY=1 bench/mailer/run.sh 1000000     # only the Mailer without DKIM: RSS
#
# Environment: BENCH_TUTTI=/path/to/tutti uses that binary instead of building one;
# BENCH_TIMEOUT=seconds (default 3600) limits each Tutti job; BENCH_POLL=seconds between
# progress polls (default 0.1, 1 with BENCH_RSS_ONLY=1); BENCH_KEEP=1 keeps the
# work folder (roots, logs) under /var/tmp.
#
# Tutti is timed from submit to the job's state "completed" (the upload before is timed
# apart); its peak RSS is VmHWM of the tutti process, which serves nothing else. Every
# Tutti run has a fresh root and process. The message size given to smtp-source -l is
# measured first: a small job into a relay-less Mailer's outbox, less the header
# smtp-source adds itself.
#
# Needs: postfix (smtp-sink, smtp-source), python3, curl, openssl (Debian packages), and
# cargo to build Tutti in release mode.
set -euo pipefail
cd "$(dirname "$0")/../.."
RECIPIENTS=${1:-100000}
SESSIONS=${2:-4}
RSS_ONLY=${BENCH_RSS_ONLY:-0}
TIMEOUT=${BENCH_TIMEOUT:-3600}   # seconds a Tutti job may take before the run gives up
# The progress poll counts the job's recipients by state (a scan of the spool index that
# takes ~5 ms at 100k and ~50 ms at 1M on the Mailer's one database connection), so the
# RSS run polls once a second rather than every 100 ms.
POLL=${BENCH_POLL:-$([ "$RSS_ONLY" = 1 ] && echo 1 || echo 0.1)}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/tutti-target}"
PATH="$PATH:/usr/sbin:/usr/local/sbin"
for cmd in smtp-sink smtp-source python3 curl openssl; do
  command -v "$cmd" >/dev/null || { echo "bench/mailer needs $cmd (apt-get install postfix python3 curl openssl)"; exit 1; }
done
if [ -n "${BENCH_TUTTI:-}" ]; then
  TUTTI=$BENCH_TUTTI   # a tutti binary built before (no build now)
else
  cargo build --release -q -p tutti
  TUTTI="$CARGO_TARGET_DIR/release/tutti"
fi
DRIVE="python3 bench/mailer/drive.py"
SENDER=news@shop.example
ANCHOR_TO=r1@example.org

work=$(mktemp -d /var/tmp/tutti-bench-mailer.XXXXXX)
chmod 755 "$work"
cleanup() {
  [ -n "${tutti_pid:-}" ] && kill "$tutti_pid" 2>/dev/null || true
  [ -n "${sink_pid:-}" ] && kill "$sink_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
set_key() { sed -i "s|^$2=.*|$2=$3|" "$1"; }

# start_mailer NAME RELAY-PORT|"" [KEY=VALUE...]: a Mailer alone in $work/NAME; sets
# tutti_pid, tutti_url and tutti_root.
start_mailer() {
  local name=$1 relay=$2 port ini kv
  shift 2
  port=$(free_port)
  tutti_root="$work/$name"
  "$TUTTI" init --root "$tutti_root" --components mailer --bind-address 127.0.0.1 --port "$port" --hub-host 127.0.0.1:9 >/dev/null
  ini="$tutti_root/mailer/mailer.ini"
  [ -n "$relay" ] && set_key "$ini" SmtpRelays "127.0.0.1:$relay"
  set_key "$ini" SmtpConnections "$SESSIONS"
  set_key "$ini" ReturnPathDomain bounces.shop.example
  set_key "$ini" DistributeClients bench@shop.example
  set_key "$ini" DistributePassword bench-pw
  for kv in "$@"; do set_key "$ini" "${kv%%=*}" "${kv#*=}"; done
  "$TUTTI" serve --root "$tutti_root" 2>"$tutti_root.stderr" &
  tutti_pid=$!
  tutti_url="http://127.0.0.1:$port"
  local deadline=$((SECONDS + 30))
  until curl -fs "$tutti_url/mailer/health" >/dev/null; do
    kill -0 "$tutti_pid" 2>/dev/null || { echo "tutti serve exited:"; cat "$tutti_root.stderr"; exit 1; }
    [ $SECONDS -lt $deadline ] || { echo "the Mailer did not answer within 30 s"; exit 1; }
    sleep 0.05
  done
}

stop_mailer() {
  kill "$tutti_pid" 2>/dev/null || true
  wait "$tutti_pid" 2>/dev/null || true
  tutti_pid=
}

# run_job NAME JOB: drives the job at the running Mailer; prints its JSON result line and
# keeps any warnings or errors of its log aside.
run_job() {
  local out
  out=$($DRIVE job "$tutti_url" "$tutti_root" "$tutti_pid" "$2" "$RECIPIENTS" --timeout "$TIMEOUT" --poll "$POLL")
  grep -hE ' (WARN|ERROR) ' "$tutti_root"/mailer/log/*.log "$tutti_root.stderr" 2>/dev/null \
    | grep -vE 'no SMTP relay is configured|cannot announce to the Hub' \
    | sed -E 's/^[0-9T:.-]+Z +//' | sort | uniq -c | sort -rn | head -20 > "$work/$1.problems" || true
  echo "$out"
}

# --- the sink (one for every run) ---
sport=$(free_port)
sink_user=()
[ "$(id -u)" = 0 ] && sink_user=(-u nobody)
smtp-sink "${sink_user[@]}" 127.0.0.1:"$sport" 1024 2>"$work/sink.stderr" &
sink_pid=$!
deadline=$((SECONDS + 10))
until python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),1).close()' "$sport" 2>/dev/null; do
  kill -0 "$sink_pid" 2>/dev/null || { echo "smtp-sink exited:"; cat "$work/sink.stderr"; exit 1; }
  [ $SECONDS -lt $deadline ] || { echo "smtp-sink did not listen within 10 s"; exit 1; }
  sleep 0.05
done

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rows=()
row() { rows+=("$(printf '%-24s %10s %9s %12s %11s %9s' "$@")"); }
mib() { python3 -c "print(f'{int(\"$1\")/1024:.0f} MiB')"; }

if [ "$RSS_ONLY" != 1 ]; then
  # --- the size of Tutti's messages, and the anchor's -l to match it ---
  start_mailer size ""
  $DRIVE job "$tutti_url" "$tutti_root" "$tutti_pid" SIZE 200 --timeout 120 >/dev/null
  stop_mailer
  size=$($DRIVE avg-size "$work/size/mailer/outbox/SIZE")
  avg=$(json "$size" avg_bytes)
  overhead=$(json "$($DRIVE source-overhead "$SENDER" "$ANCHOR_TO")" overhead)
  length=$(python3 -c "print(max(1, round($avg - $overhead)))")

  # --- the anchor: smtp-source -d ---
  a=$($DRIVE anchor "$sport" "$SESSIONS" "$RECIPIENTS" "$length" "$SENDER" "$ANCHOR_TO")
  a_rate=$(python3 -c "print($(json "$a" messages)/$(json "$a" seconds))")
  row "smtp-source -d" "$RECIPIENTS" "$(printf %.2f "$(json "$a" seconds)")" \
    "$(printf %.0f "$a_rate")" "$(mib "$(json "$a" rss_kb)")" "1.00x"
fi

results=()
tutti_run() { # LABEL NAME [KEY=VALUE...]
  local label=$1 name=$2 r rate ratio
  shift 2
  start_mailer "$name" "$sport" "$@"
  r=$(run_job "$name" "${name^^}")
  stop_mailer
  results+=("$label: $r")
  rate=$(python3 -c "print($(json "$r" sent)/$(json "$r" seconds))")
  ratio=-
  [ -n "${a_rate:-}" ] && ratio=$(python3 -c "print(f'{$rate/$a_rate:.2f}x')")
  row "$label" "$(json "$r" sent)" "$(printf %.2f "$(json "$r" seconds)")" \
    "$(printf %.0f "$rate")" "$(mib "$(json "$r" rss_kb)")" "$ratio"
  [ "$(json "$r" state)" = completed ] || echo "warning: $label did not complete: $r"
  [ "$(json "$r" sent)" = "$RECIPIENTS" ] || echo "warning: $label sent $(json "$r" sent) of $RECIPIENTS: $r"
}

tutti_run "tutti" plain
if [ "$RSS_ONLY" != 1 ]; then
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/dkim.pem" 2>/dev/null
  tutti_run "tutti + DKIM rsa-2048" dkim "DkimKeys=shop.example:bench:$work/dkim.pem"
fi

echo
printf 'mailer benchmark: %s recipients, %s sessions into smtp-sink, %s cores (load average before: %s)\n' \
  "$RECIPIENTS" "$SESSIONS" "$(nproc)" "$load_before"
[ "$RSS_ONLY" != 1 ] && printf 'message size %.0f bytes (Tutti average; smtp-source -l %s + %s bytes of its header)\n' "$avg" "$length" "$overhead"
printf '  %-24s %10s %9s %12s %11s %9s\n' run messages seconds messages/s "peak RSS" ratio
printf '  %s\n' "${rows[@]}"
for r in "${results[@]}"; do
  python3 - "$r" <<'PY'
import json, sys
label, r = sys.argv[1].split(": ", 1)
r = json.loads(r)
print(f"  {label}: upload {r['upload_seconds']:.1f} s, tutti CPU {r['tutti_cpu_seconds']:.1f} s "
      f"during the send ({100 * r['tutti_cpu_seconds'] / r['seconds']:.0f}% of one core), "
      f"RSS after upload {r['rss_after_upload_kb'] / 1024:.0f} MiB, failed {r['failed']}, deferred {r['deferred']}")
PY
done
[ -n "${a:-}" ] && python3 -c "import json,sys; a=json.loads(sys.argv[1]); print(f\"  smtp-source: CPU {a['cpu_seconds']:.1f} s ({100*a['cpu_seconds']/a['seconds']:.0f}% of one core)\")" "$a"
for f in "$work"/*.problems; do
  [ -s "$f" ] && { echo "warnings/errors in the Tutti log ($(basename "$f" .problems)):"; sed 's/^/  /' "$f"; }
done
if [ "$RSS_ONLY" = 1 ]; then
  echo "goal: peak RSS < 200 MB for a 1M-recipient job"
else
  echo "goal: tutti (no DKIM) >= 0.8x smtp-source and >= 5,000 messages/s"
fi
