#!/usr/bin/env bash
# Benchmark: Tutti's click endpoint (every event durable before the answer) against nginx
# answering the same request with a 302 and an access log, both driven by wrk on this
# machine in the same run. Prints requests/s and p99 latency of both and the ratio.
#
#   bench/tracker/run.sh [seconds] [connections] [rounds]
#
# Needs: wrk, nginx, python3 (Debian packages), and cargo to build Tutti in release mode.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_RUN=${1:-10}
CONNECTIONS=${2:-64}
ROUNDS=${3:-3}
THREADS=2
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/tutti-target}"
for cmd in wrk nginx python3 curl; do
  command -v "$cmd" >/dev/null || { echo "bench/tracker needs $cmd (apt-get install wrk nginx-light python3 curl)"; exit 1; }
done
cargo build --release -q -p tutti
TUTTI="$CARGO_TARGET_DIR/release/tutti"

work=$(mktemp -d)
cleanup() {
  [ -n "${tutti_pid:-}" ] && kill "$tutti_pid" 2>/dev/null || true
  [ -f "$work/nginx/nginx.pid" ] && kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- Tutti: a Tracker on its own ---
tport=$(free_port)
"$TUTTI" init --root "$work/trk" --components trk --bind-address 127.0.0.1 --port "$tport" --hub-host 127.0.0.1:9 >/dev/null
sed -i 's/^LogLevel=.*/LogLevel=severe/' "$work/trk/trk/tracker.ini"
"$TUTTI" serve --root "$work/trk" 2>"$work/tutti.stderr" &
tutti_pid=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$tport/trk/health" >/dev/null && break; sleep 0.1; done
secret=$(sed -n 's/^ClusterSecret=//p' "$work/trk/trk/tracker.ini")
key=$(python3 -c 'import base64,os; print(base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode())')
curl -fs -X PUT -H "Authorization: Bearer $secret" -H 'content-type: application/json' \
  -d "{\"key\":\"$key\",\"tracking\":\"personal\",\"opens\":true,\"links\":[{\"url\":\"https://shop.example/sale\",\"tracked\":true}]}" \
  "http://127.0.0.1:$tport/trk/api/jobs/BENCH" >/dev/null
token=$(python3 bench/tracker/make_token.py BENCH "$key" 42)
tutti_url="http://127.0.0.1:$tport/trk/click?ref=$token"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$tutti_url")" = 302 ] || { echo "Tutti did not redirect"; exit 1; }

# --- nginx: the same request, a 302 and an access log ---
nport=$(free_port)
mkdir -p "$work/nginx/logs"
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 4096; }
http {
  access_log $work/nginx/logs/access.log;
  server {
    listen 127.0.0.1:$nport;
    location /trk/click { return 302 https://shop.example/sale; }
  }
}
CONF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf"
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$nport/trk/click" && break; sleep 0.1; done
nginx_url="http://127.0.0.1:$nport/trk/click?ref=$token"

# CPU time (clock ticks) the processes $@ have used.
cpu_ticks() { for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{t += $1} END {print t}'; }

measure() { # url server-pids... → "requests/s p99-ms cpu-us-per-request"
  local url=$1; shift
  local before after
  before=$(cpu_ticks "$@")
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_RUN}s" --latency "$url" > "$work/wrk.out"
  after=$(cpu_ticks "$@")
  local rps p99 requests
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")
  requests=$(awk '/requests in/ {print $1}' "$work/wrk.out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' "$work/wrk.out")
  echo "$rps $p99 $(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')"
}

# Rounds alternate between the two, so that a slow spell of this machine (nginx alone
# varies by a third between runs) falls on both; each figure is the median of its rounds.
n_runs=(); t_runs=()
for round in $(seq 1 "$ROUNDS"); do
  n_runs+=("$(measure "$nginx_url" $(pgrep -P "$(cat "$work/nginx/nginx.pid")"))")
  t_runs+=("$(measure "$tutti_url" "$tutti_pid")")
  printf '  round %s: nginx %s, tutti %s (requests/s, p99 ms, server CPU µs per request)\n' "$round" "${n_runs[-1]}" "${t_runs[-1]}" >&2
done
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
n_rps=$(printf '%s\n' "${n_runs[@]}" | cut -d' ' -f1 | median)
n_p99=$(printf '%s\n' "${n_runs[@]}" | cut -d' ' -f2 | median)
t_rps=$(printf '%s\n' "${t_runs[@]}" | cut -d' ' -f1 | median)
t_p99=$(printf '%s\n' "${t_runs[@]}" | cut -d' ' -f2 | median)
n_cpu=$(printf '%s\n' "${n_runs[@]}" | cut -d' ' -f3 | median)
t_cpu=$(printf '%s\n' "${t_runs[@]}" | cut -d' ' -f3 | median)
events=$(curl -fs -H "Authorization: Bearer $secret" "http://127.0.0.1:$tport/trk/api/events?after=0&limit=1" >/dev/null && echo ok)

printf 'tracker benchmark: wrk -t%s -c%s -d%ss on %s cores, one click URL, median of %s rounds\n' "$THREADS" "$CONNECTIONS" "$SECONDS_RUN" "$(nproc)" "$ROUNDS"
printf '  nginx 302 + access log : %10.0f requests/s   p99 %7.2f ms   CPU %6.2f µs/request\n' "$n_rps" "$n_p99" "$n_cpu"
printf '  tutti click (durable)  : %10.0f requests/s   p99 %7.2f ms   CPU %6.2f µs/request\n' "$t_rps" "$t_p99" "$t_cpu"
python3 -c "print(f'  ratio tutti/nginx      : {float($t_rps)/float($n_rps):.2f}x requests/s')"
[ "$events" = ok ] || echo "warning: could not read the Tracker's event feed after the run"
