#!/usr/bin/env bash
# Starts, stops and reports a local cluster on loopback, for the failover tests and for trying
# ioc's high availability on one machine: Debian's ZooKeeper (coordination for ClickHouse's
# replication and ioc's alert-engine lease), two ClickHouse replicas of one shard (cluster
# "ioc") and a third server, the second shard of cluster "ioc_shards" (shard 01 = the two
# replicas, shard 02 = server 3: the sharded schema's tests), each started through services.sh
# with its own data folder, ports and macros, and a
# three-node MQTT broker cluster: NATS server's MQTT listener on JetStream (sessions and queued
# messages replicated on all three nodes), built from its Go module at a pinned version.
#
#   deploy/local/cluster.sh start    install if missing (apt as root; go install), start, wait until all answer
#   deploy/local/cluster.sh start-ioc  also ioc split by roles on them, with a simulated province
#                                    (needs bin/ioc: make build; `make cluster` does both);
#                                    IOC_CLUSTER_CLICKHOUSE=ioc_shards: on the two shards
#   deploy/local/cluster.sh stop     stop what this script started
#   deploy/local/cluster.sh status   say what answers where
#   deploy/local/cluster.sh start-zookeeper|stop-zookeeper|start-replica N|stop-replica N|kill-replica N
#                           start-broker N|stop-broker N|kill-broker N
#                                    one part only (the failover tests kill and start them)
#
# Ports: IOC_CLUSTER_ZOOKEEPER_PORT (2181); ClickHouse server N (1-3): native 910N,
# HTTP 812(3+N), secure native 944N, interserver 901N; broker node N (1-3): MQTT 189N, NATS
# client 422(1+N), cluster routes 622(1+N), monitoring 822(1+N). Data: IOC_CLUSTER_DATA
# (<repo>/.data/cluster). NATS_SERVER_VERSION (v2.15.2) is the nats-server module built.
# start-ioc: the simulated Lào Cai province's sensors (ioc sim province) and six cameras
# (ioc sim cameras, RTSP from 127.0.0.1:28554) as the devices; ioc-1 and ioc-2 (ingest, streams,
# alerts, dashboard: one leads the alert engine and watches the cameras, the other stands by)
# on 127.0.0.1:8091 and 8092; ioc-3 (dashboard only, the operators' address) on 127.0.0.1:8090.
# They use deploy/config/demo.yaml (its public demo keys) with the cluster's servers set by
# environment; logs and spools under .data/cluster/ioc/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
data=${IOC_CLUSTER_DATA:-$repo/.data/cluster}
zk_port=${IOC_CLUSTER_ZOOKEEPER_PORT:-2181}
zk_dir=$data/zookeeper
replicas=(1 2 3)
shard1=(1 2) # cluster "ioc" and shard 01 of "ioc_shards"; server 3 is shard 02 of "ioc_shards"
brokers=(1 2 3)
nats_version=${NATS_SERVER_VERSION:-v2.15.2}
nats_bin=$repo/.data/tools/nats-server-$nats_version/nats-server
# shellcheck source=deploy/local/lib.sh
who=cluster
. "$here/lib.sh"

# zk_answers asks ZooKeeper's four-letter "srvr": it names the server's mode once it serves
# sessions. ("ruok" is answered "imok" as soon as the port is bound, before the database is
# loaded: a replica started then failed with "All connection tries failed".)
zk_answers() {
  local reply
  reply=$(tcp_ask "$zk_port" srvr) || return 1
  [[ "$reply" == *"Mode: "* ]]
}

ch_port() { echo $((9100 + $1)); }
ch_answers() { timeout 10 clickhouse-client --host 127.0.0.1 --port "$(ch_port "$1")" --query 'SELECT 1' >/dev/null 2>&1; }

install_missing() {
  if [ ! -x "$nats_bin" ]; then
    command -v go >/dev/null || die "go is needed to build nats-server $nats_version (the broker cluster)"
    say "building nats-server $nats_version (go install, once)"
    GOBIN=$(dirname "$nats_bin") go install "github.com/nats-io/nats-server/v2@$nats_version" || die "go install nats-server $nats_version failed"
  fi
  [ -f /usr/share/java/zookeeper.jar ] && command -v java >/dev/null && return 0
  if [ "$(id -u)" -ne 0 ]; then
    die "ZooKeeper is missing. Install it as root: sudo apt-get update && sudo apt-get install -y --no-install-recommends zookeeper"
  fi
  say "installing zookeeper (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends zookeeper >/dev/null
}

start_zookeeper() {
  if zk_answers; then say "ZooKeeper already answers on 127.0.0.1:$zk_port: reusing it"; return 0; fi
  port_open "$zk_port" && die "port $zk_port is taken by something that is not ZooKeeper"
  mkdir -p "$zk_dir/data"
  # A standalone server with a short tick, so that a lost session (a killed ioc) expires in
  # seconds: sessions may ask for 2 to 20 ticks.
  cat >"$zk_dir/zoo.cfg" <<CONF
# Written by deploy/local/cluster.sh; edits are overwritten at the next start.
tickTime=500
dataDir=$zk_dir/data
clientPort=$zk_port
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=srvr,mntr
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
CONF
  say "starting ZooKeeper on 127.0.0.1:$zk_port (data in $zk_dir)"
  (cd "$zk_dir" && exec setsid -f sh -c 'echo $$ >"$1/pid"; exec java -Xmx256m -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
      org.apache.zookeeper.server.quorum.QuorumPeerMain "$1/zoo.cfg"' sh "$zk_dir") >"$zk_dir/zookeeper.log" 2>&1 </dev/null
  wait_for ZooKeeper zk_answers 30 "$zk_dir/zookeeper.log"
}

# shard_xml N...: a remote_servers shard of servers N...
shard_xml() {
  local r
  echo -n '<shard><internal_replication>true</internal_replication>'
  for r in "$@"; do echo -n "<replica><host>127.0.0.1</host><port>$(ch_port "$r")</port></replica>"; done
  echo '</shard>'
}

# replica_config N writes server N's own settings: ZooKeeper, the clusters, its macros and its
# interserver port (the other replica fetches its parts there). Replica names are unique
# across the shards: the sharded schema's small tables are replicated to every server.
replica_config() {
  local n=$1 file=$data/replica$1.xml shard=01
  [ "$n" = 3 ] && shard=02
  mkdir -p "$data"
  {
    echo '<yandex>'
    echo "  <interserver_http_port>$((9010 + n))</interserver_http_port>"
    echo '  <interserver_http_host>127.0.0.1</interserver_http_host>'
    echo "  <zookeeper><node><host>127.0.0.1</host><port>$zk_port</port></node><session_timeout_ms>6000</session_timeout_ms></zookeeper>"
    echo "  <remote_servers><ioc>$(shard_xml "${shard1[@]}")</ioc><ioc_shards>$(shard_xml "${shard1[@]}")$(shard_xml 3)</ioc_shards></remote_servers>"
    echo "  <macros><shard>$shard</shard><replica>replica$n</replica></macros>"
    # ClickHouse 18.16 runs distributed DDL with the default profile's settings, not the
    # query's: its LowCardinality columns need this there (current releases ignore it). The
    # file goes to conf.d/, which the server reads for users.xml too.
    echo '  <profiles><default><allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type></default></profiles>'
    echo '</yandex>'
  } >"$file"
  echo "$file"
}

replica_env() { # replica_env N: the services.sh settings of replica N
  local n=$1
  echo IOC_LOCAL_DATA="$data/replica$n" IOC_LOCAL_CLICKHOUSE_PORT="$(ch_port "$n")" \
    IOC_LOCAL_CLICKHOUSE_HTTP_PORT=$((8123 + n)) IOC_LOCAL_CLICKHOUSE_SECURE_PORT=$((9440 + n)) \
    IOC_LOCAL_CLICKHOUSE_EXTRA_CONFIG="$(replica_config "$n")"
}

start_replica() {
  [[ " ${replicas[*]} " == *" $1 "* ]] || die "no replica $1 (replicas: ${replicas[*]})"
  env $(replica_env "$1") "$here/services.sh" start-clickhouse
}

stop_replica() {
  env IOC_LOCAL_DATA="$data/replica$1" "$here/services.sh" stop-clickhouse
}

kill_one() { # kill_one NAME PIDFILE: kill -9, as a crash would (the failover tests)
  local name=$1 pidfile=$2
  [ -s "$pidfile" ] || die "$name was not started by this script"
  kill -9 "$(cat "$pidfile")" 2>/dev/null || true
  while kill -0 "$(cat "$pidfile")" 2>/dev/null; do sleep 0.1; done
  rm -f "$pidfile"
  say "$name killed (SIGKILL)"
}

broker_dir() { echo "$data/broker/node$1"; }
broker_port() { echo $((1890 + $1)); }

# broker_healthy N asks node N's monitoring port: 200 once it serves JetStream (it is in the
# cluster and the stream leaders are known), which its MQTT sessions need.
broker_healthy() { http_ok "$((8221 + $1))" /healthz; }

start_broker() {
  local n=$1 dir r routes=""
  [[ " ${brokers[*]} " == *" $n "* ]] || die "no broker node $n (nodes: ${brokers[*]})"
  dir=$(broker_dir "$n")
  if [ -s "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then say "broker node $n already runs: reusing it"; return 0; fi
  port_open "$(broker_port "$n")" && die "port $(broker_port "$n") is taken by something that is not broker node $n"
  mkdir -p "$dir/jetstream"
  for r in "${brokers[@]}"; do routes+="nats-route://127.0.0.1:$((6221 + r)), "; done
  # ack_wait: a QoS 1 message delivered on a connection that died is sent again after this
  # (the default 30s would hold readings back that long after a node is lost).
  cat >"$dir/nats.conf" <<CONF
# Written by deploy/local/cluster.sh; edits are overwritten at the next start.
server_name: node$n
listen: 127.0.0.1:$((4221 + n))
http: 127.0.0.1:$((8221 + n))
max_payload: 1MB
jetstream { store_dir: "$dir/jetstream", max_memory_store: 256MB, max_file_store: 4GB }
cluster { name: ioc, listen: 127.0.0.1:$((6221 + n)), routes: [${routes%, }] }
mqtt { listen: 127.0.0.1:$(broker_port "$n"), stream_replicas: 3, ack_wait: "10s", max_ack_pending: 4096 }
CONF
  say "starting broker node $n on tcp://127.0.0.1:$(broker_port "$n") (data in $dir)"
  setsid -f sh -c 'echo $$ >"$1/pid"; exec "$2" -c "$1/nats.conf"' sh "$dir" "$nats_bin" >"$dir/nats.log" 2>&1 </dev/null
}

wait_broker() {
  local n=$1
  healthy_n() { broker_healthy "$n"; }
  wait_for "broker node $n" healthy_n 60 "$(broker_dir "$n")/nats.log"
}

broker_urls() {
  local n urls=""
  for n in "${brokers[@]}"; do urls+="tcp://127.0.0.1:$(broker_port "$n"),"; done
  echo "${urls%,}"
}

# http_ok PORT PATH: a GET of 127.0.0.1:PORT/PATH answers 200.
http_ok() {
  local reply
  reply=$(tcp_ask "$1" "GET $2 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n") || return 1
  [[ "$reply" == "HTTP/1."?" 200"* ]]
}

ioc_dir=$data/ioc
ioc_bin=$repo/bin/ioc
ioc_procs=(ioc-1 ioc-2 ioc-3)
ioc_port() { case $1 in ioc-1) echo 8091 ;; ioc-2) echo 8092 ;; ioc-3) echo 8090 ;; esac; }

# run_bg NAME CMD...: runs CMD detached, its pid in $ioc_dir/NAME.pid, its output in NAME.log.
run_bg() {
  local name=$1
  shift
  if [ -s "$ioc_dir/$name.pid" ] && kill -0 "$(cat "$ioc_dir/$name.pid")" 2>/dev/null; then say "$name already runs: reusing it"; return 0; fi
  setsid -f sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$ioc_dir/$name.pid" "$@" >"$ioc_dir/$name.log" 2>&1 </dev/null
}

start_ioc() {
  [ -x "$ioc_bin" ] || die "no $ioc_bin: run make build (or make cluster)"
  mkdir -p "$ioc_dir"
  local demo=$repo/deploy/config/demo.yaml name port roles i
  # the cluster's servers, for every ioc command below: cluster "ioc" (one shard), or with
  # IOC_CLUSTER_CLICKHOUSE=ioc_shards the two shards, in a database of their own
  local ch_cluster=${IOC_CLUSTER_CLICKHOUSE:-ioc} ch_addr=127.0.0.1:$(ch_port 1),127.0.0.1:$(ch_port 2) ch_db=ioc
  case $ch_cluster in
    ioc) ;;
    ioc_shards) ch_addr+=,127.0.0.1:$(ch_port 3) ch_db=ioc_shards ;;
    *) die "IOC_CLUSTER_CLICKHOUSE=$ch_cluster: want ioc or ioc_shards" ;;
  esac
  export IOC_CLICKHOUSE_ADDR=$ch_addr IOC_CLICKHOUSE_CLUSTER=$ch_cluster IOC_CLICKHOUSE_DATABASE=$ch_db \
    IOC_CLICKHOUSE_MIGRATE_ON_START=false IOC_MQTT_BROKER=$(broker_urls) IOC_SIMULATOR_ENABLED=false \
    IOC_ALERTS_LEASE_ZOOKEEPER=127.0.0.1:$zk_port IOC_HTTP_LIVE_RELAY=ioc-live \
    IOC_INGEST_CATALOG=$ioc_dir/sensors.yaml IOC_STREAMS_CATALOG=$ioc_dir/cameras.yaml
  IOC_SIMULATOR_ENABLED=true run_bg province "$ioc_bin" sim province --config "$demo" --catalog-out "$ioc_dir/sensors.yaml"
  run_bg cameras "$ioc_bin" sim cameras --count 6 --base-port 28554 --id-prefix lc-cam --catalog-out "$ioc_dir/cameras.yaml"
  for ((i = 0; i < 50; i++)); do [ -s "$ioc_dir/sensors.yaml" ] && [ -s "$ioc_dir/cameras.yaml" ] && break; sleep 0.2; done
  say "migrating the schema on cluster $ch_cluster"
  IOC_ROLES=dashboard "$ioc_bin" migrate --config "$demo" >"$ioc_dir/migrate.log" 2>&1 || { tail -n 20 "$ioc_dir/migrate.log" >&2; die "ioc migrate failed"; }
  for name in "${ioc_procs[@]}"; do
    port=$(ioc_port "$name")
    roles=ingest,streams,alerts,dashboard
    [ "$name" = ioc-3 ] && roles=dashboard
    IOC_ROLES=$roles IOC_MQTT_CLIENT_ID=$name IOC_HTTP_LISTEN=127.0.0.1:$port IOC_WRITER_SPOOL_DIR=$ioc_dir/$name-spool \
      run_bg "$name" "$ioc_bin" serve --config "$demo"
  done
  for name in "${ioc_procs[@]}"; do
    port=$(ioc_port "$name")
    ready_n() { http_ok "$port" /readyz; }
    wait_for "$name" ready_n 60 "$ioc_dir/$name.log"
  done
}

stop_ioc() {
  local name
  for name in "${ioc_procs[@]}" cameras province; do stop_one "$name" "$ioc_dir/$name.pid"; done
}

status() {
  local rc=0 n
  if zk_answers; then say "ZooKeeper answers on 127.0.0.1:$zk_port"; else say "ZooKeeper: not answering on 127.0.0.1:$zk_port"; rc=1; fi
  for n in "${brokers[@]}"; do
    if broker_healthy "$n"; then say "broker node $n answers on tcp://127.0.0.1:$(broker_port "$n")"; else say "broker node $n: not answering on tcp://127.0.0.1:$(broker_port "$n")"; rc=1; fi
  done
  for n in "${ioc_procs[@]}"; do
    [ -s "$ioc_dir/$n.pid" ] || continue
    if http_ok "$(ioc_port "$n")" /readyz; then say "$n ready on http://127.0.0.1:$(ioc_port "$n")/"; else say "$n: not ready on 127.0.0.1:$(ioc_port "$n")"; rc=1; fi
  done
  for n in "${replicas[@]}"; do
    if ch_answers "$n"; then say "ClickHouse replica $n answers on 127.0.0.1:$(ch_port "$n")"; else say "ClickHouse replica $n: not answering on 127.0.0.1:$(ch_port "$n")"; rc=1; fi
  done
  return $rc
}

case "${1:-}" in
  start)
    install_missing
    "$here/services.sh" install
    start_zookeeper
    # The broker nodes elect their JetStream leaders while the replicas start.
    for n in "${brokers[@]}"; do start_broker "$n"; done
    for n in "${replicas[@]}"; do start_replica "$n"; done
    for n in "${brokers[@]}"; do wait_broker "$n"; done
    say "ready: ZooKeeper 127.0.0.1:$zk_port; ClickHouse cluster \"ioc\" on 127.0.0.1:$(ch_port 1),127.0.0.1:$(ch_port 2), \"ioc_shards\" adds shard 02 on 127.0.0.1:$(ch_port 3); MQTT broker cluster $(broker_urls)"
    ;;
  start-ioc)
    "$0" start
    start_ioc
    say "ready: the operators' UI on http://127.0.0.1:$(ioc_port ioc-3)/ (demo tokens as in make demo); ioc-1 http://127.0.0.1:$(ioc_port ioc-1)/, ioc-2 http://127.0.0.1:$(ioc_port ioc-2)/"
    ;;
  stop-ioc) stop_ioc ;;
  stop)
    stop_ioc
    for n in "${brokers[@]}"; do stop_one "broker node $n" "$(broker_dir "$n")/pid"; done
    for n in "${replicas[@]}"; do stop_replica "$n"; done
    stop_one ZooKeeper "$zk_dir/pid"
    ;;
  status) status ;;
  start-zookeeper) install_missing; start_zookeeper ;;
  stop-zookeeper) stop_one ZooKeeper "$zk_dir/pid" ;;
  start-replica) start_replica "${2:?replica number}" ;;
  stop-replica) stop_replica "${2:?replica number}" ;;
  kill-replica) kill_one "replica ${2:?replica number}" "$data/replica$2/clickhouse/pid" ;;
  start-broker) install_missing; start_broker "${2:?broker node number}"; wait_broker "$2" ;;
  stop-broker) stop_one "broker node ${2:?broker node number}" "$(broker_dir "$2")/pid" ;;
  kill-broker) kill_one "broker node ${2:?broker node number}" "$(broker_dir "$2")/pid" ;;
  *) echo "usage: $0 start|start-ioc|stop|stop-ioc|status|start-zookeeper|stop-zookeeper|start-replica N|stop-replica N|kill-replica N|start-broker N|stop-broker N|kill-broker N" >&2; exit 2 ;;
esac
