#!/usr/bin/env bash
# Measures the fleet (issue 4) with the sample run as real processes on one throwaway PostgreSQL server, loopback only:
#   1. connections per host (pg_stat_activity by application_name) at 100 and at 5,000 tenants over 2 hosts;
#   2. kill -9 of a host owning about half of 1,000 tenants: time until every tenant is connected on the survivor;
#   3. SIGTERM of a host owning about half of 1,000 tenants: time until all run on the other host;
#   and checks, from the clients' audit lines (Simulator:AuditFile), that no tenant ever ran on two processes at once.
# Default fleet settings (lease 10 s, renew 3 s, heartbeat 2 s, dead after 3 missed); simulator connect delay 0–50 ms.
# Bounded: every wait has a timeout; everything it starts is stopped on exit. Usage: tools/fleet-measure.sh  (as root or postgres)
#   tools/fleet-measure.sh failover [runs]   only steps 2 and 3, repeated (default 3 runs), each on a database of its own.
#   FLEET_MEASURE_NO_BUILD=1 uses the sample as last built in Release (FLEET_MEASURE_DLL=path: that build of it instead).
#   FLEET_ENGINE=Orleans runs the same steps with the Orleans placement (MultiTenant.Orleans; silo ports next to the HTTP port); its
#   SIGTERM step starts both hosts on a database of their own first, since Orleans does not move running tenants to a joining host.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
WORK=$(mktemp -d /tmp/fleet-measure.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DLL=${FLEET_MEASURE_DLL:-$ROOT/samples/MultiTenant.Sample/bin/Release/net10.0/MultiTenant.Sample.dll}
declare -A PIDS
API_KEY=measure-$(python3 -c 'import secrets; print(secrets.token_hex(16))')
KEK=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  for h in "${!PIDS[@]}"; do kill -9 "${PIDS[$h]}" 2>/dev/null || true; done
  as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 130" INT TERM
[ "$(id -u)" = 0 ] && chown postgres:postgres "$WORK"
as_pg "$PGBIN/initdb" -D "$WORK/data" -A trust -U postgres --no-sync >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/pg.log" -w -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$WORK -c fsync=off -c synchronous_commit=off -c max_connections=300" start >/dev/null
psql() { command psql -h 127.0.0.1 -p "$PORT" -U postgres -At "$@"; }
[ -n "${FLEET_MEASURE_NO_BUILD:-}" ] || dotnet build "$ROOT/samples/MultiTenant.Sample/MultiTenant.Sample.csproj" -c Release -v q -nologo >/dev/null

now_ms() { date +%s%3N; }
start_host() { # name db port
  local h=$1 db=$2 port=$3
  env DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/$db?application_name=host-$h&pool_max_conns=10" HOST_ID="host-$h" HTTP_PORT="$port" API_KEY="$API_KEY" WhatsAppTenants__Secrets__KeyEncryptionKey="$KEK" WhatsAppTenants__Api__RateLimits__Enabled=false \
    Simulator__ConnectDelayMin=00:00:00 Simulator__ConnectDelayMax=00:00:00.050 Simulator__AuditFile="$WORK/audit-$db-$h-$(now_ms).log" \
    Logging__LogLevel__Default=Warning ASPNETCORE_ENVIRONMENT=Production \
    WhatsAppTenants__Fleet__Engine="${FLEET_ENGINE:-PostgreSql}" \
    WhatsAppTenants__Fleet__Orleans__SiloPort=$((port + 1000)) WhatsAppTenants__Fleet__Orleans__GatewayPort=$((port + 2000)) \
    dotnet "$DLL" >"$WORK/host-$h-$db.log" 2>&1 &
  PIDS[$h]=$!
  for _ in $(seq 1 600); do curl -s -o /dev/null "localhost:$port/livez" && return 0; sleep 0.2; done
  echo "host $h did not start"; cat "$WORK/host-$h-$db.log"; exit 1
}
start_tenants() { # port from to
  seq "$2" "$3" | xargs -P 8 -I{} curl -s -o /dev/null -X POST "localhost:$1/api/tenants" -H "Authorization: Bearer $API_KEY" -H 'content-type: application/json' -d '{"business_id":"t{}"}'
}
connected() { psql -d "$1" -c "SELECT count(*) FROM multitenant.tenant_status WHERE state = 'connected'${2:+ AND host = '$2'}"; }
wait_for() { # db expected host timeout_s
  local deadline=$(( $(now_ms) + $4 * 1000 ))
  while [ "$(now_ms)" -lt "$deadline" ]; do [ "$(connected "$1" "$3")" = "$2" ] && return 0; sleep 0.05; done
  echo "timeout: $(connected "$1" "$3") of $2 connected${3:+ on $3}"; return 1
}
# Transactions per second in database $1 over $2 seconds (every statement of the hosts runs in a transaction of its own or a batch's).
statements_per_s() {
  local a b; a=$(psql -d postgres -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$1'"); sleep "$2"
  b=$(psql -d postgres -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$1'"); echo $(( (b - a) / $2 ))
}
connections() { psql -d postgres -c "SELECT application_name || '=' || count(*) FROM pg_stat_activity WHERE datname = '$1' AND application_name LIKE 'host-%' GROUP BY application_name ORDER BY 1" | tr '\n' ' '; }
owners() { psql -d "$1" -c "SELECT owner || '=' || count(*) FROM multitenant.leases WHERE instance_id IS NOT NULL AND expires_at > now() GROUP BY owner ORDER BY 1" | tr '\n' ' '; }
check_audit() { # db [killed-host kill-ms]
  python3 - "$WORK" "$1" "${2:-}" "${3:-0}" <<'EOF'
import sys, collections, glob
work, db, killed, kill_ms = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
intervals = collections.defaultdict(list)
for path in glob.glob(f"{work}/audit-{db}-*.log"):  # one file per process
    open_at = {}
    for line in open(path):
        what, tenant, host, ms = line.split()[:4]; ms = int(ms)
        if what == 'send': continue
        if what == 'open': open_at[tenant] = ms
        else: intervals[tenant].append((open_at.pop(tenant), ms, host))
    for tenant, start in open_at.items():  # still open: running now, or killed with its process (host-<killed>)
        intervals[tenant].append((start, kill_ms if host == 'host-' + killed else 1 << 62, host))
overlaps = 0
for tenant, ivs in intervals.items():
    ivs.sort()
    for a, b in zip(ivs, ivs[1:]):
        if a[1] > b[0]: overlaps += 1; print('OVERLAP', tenant, a, b)
print(f"ownership intervals: {sum(map(len, intervals.values()))}, tenants: {len(intervals)}, overlaps: {overlaps}")
sys.exit(1 if overlaps else 0)
EOF
}

MODE=${1:-all}; RUNS=${2:-3}
if [ "$MODE" = all ]; then
echo "== connections per host (pool_max_conns=10; 1 LISTEN connection + pooled) =="
psql -d postgres -c "CREATE DATABASE conns" >/dev/null
start_host a conns 18181; start_host b conns 18182
start_tenants 18181 1 100; wait_for conns 100 "" 60
sleep 4; echo "100 tenants:   $(connections conns)  owners: $(owners conns)"
start_tenants 18182 101 5000; wait_for conns 5000 "" 180
sleep 4; echo "5,000 tenants: $(connections conns)  owners: $(owners conns)"
kill -TERM "${PIDS[a]}" "${PIDS[b]}"; wait "${PIDS[a]}" "${PIDS[b]}" || true; unset 'PIDS[a]' 'PIDS[b]'
check_audit conns

fi

for run in $(seq 1 $([ "$MODE" = all ] && echo 1 || echo "$RUNS")); do
  echo "== kill -9 of a host owning about half of 1,000 tenants =="
  psql -d postgres -c "CREATE DATABASE fleet$run" >/dev/null
  start_host a fleet$run 18281; start_host b fleet$run 18282
  start_tenants 18281 1 1000; wait_for fleet$run 1000 "" 120
  sleep 4; echo "before: $(owners fleet$run)  connections: $(connections fleet$run)  transactions/s (10 s, steady): $(statements_per_s fleet$run 10)"
  kill_ms=$(now_ms); kill -9 "${PIDS[b]}"; unset 'PIDS[b]'
  expiry=$(psql -d fleet$run -c "SELECT COALESCE(round(extract(epoch FROM max(expires_at) - now()) * 1000), 0) FROM multitenant.leases WHERE owner = 'host-b'")
  wait_for fleet$run 1000 host-a 90; t1=$(now_ms)
  echo "every tenant connected on the survivor $((t1 - kill_ms)) ms after kill -9 (the killed host's leases expired ${expiry} ms after the kill)"
  check_audit fleet$run b "$kill_ms"

  echo "== SIGTERM handoff of about half of 1,000 tenants =="
  if [ "${FLEET_ENGINE:-PostgreSql}" = Orleans ]; then
    kill -9 "${PIDS[a]}" 2>/dev/null || true; unset 'PIDS[a]'
    psql -d postgres -c "CREATE DATABASE hand$run" >/dev/null
    start_host a hand$run 18281; start_host b hand$run 18282
    start_tenants 18281 1 1000; wait_for hand$run 1000 "" 120
    db=hand$run
  else
    db=fleet$run
    start_host b fleet$run 18282
  fi
  for _ in $(seq 1 300); do n=$(connected $db host-b); [ "$n" -ge 400 ] && [ "$(connected $db)" = 1000 ] && break; sleep 0.1; done
  sleep 2; echo "before: $(owners $db)"
  t0=$(now_ms); kill -TERM "${PIDS[b]}"
  wait_for $db 1000 host-a 60; t1=$(now_ms)
  echo "all 1,000 running on host-a $((t1 - t0)) ms after SIGTERM of host-b"
  wait "${PIDS[b]}" && rc=0 || rc=$?; echo "host-b exit code: $rc"; unset 'PIDS[b]'
  if [ "$db" = "fleet$run" ]; then check_audit fleet$run b "$kill_ms"; else check_audit $db; fi   # the killed incarnation's intervals end at the kill; the SIGTERMed one closed its own
  kill -9 "${PIDS[a]}" 2>/dev/null || true; unset 'PIDS[a]'
done
