#!/usr/bin/env bash
# Starts, stops and reports the local real servers that `make demo` and `make test` use:
# Debian's clickhouse-server and mosquitto, bound to loopback only, with their data, logs and
# configuration under the repo's ignored .data/ folder, and MediaMTX (built from its Go module
# once by deploy/local/mediamtx.sh), which re-streams the cameras to browsers and asks ioc
# (IOC_LOCAL_MEDIAMTX_AUTH, make demo's http://127.0.0.1:8080/api/v1/video/auth) about each
# viewer. No systemd is needed.
#
#   deploy/local/services.sh start    install if missing (apt, as root), start, wait until all answer
#   deploy/local/services.sh stop     stop the servers this script started
#   deploy/local/services.sh status   say what answers where
#   deploy/local/services.sh install  install the missing Debian packages only
#   deploy/local/services.sh start-clickhouse|stop-clickhouse|start-mosquitto|stop-mosquitto
#                                     one server only (fault tests stop and start them)
#
# IOC_LOCAL_CLICKHOUSE_EXTRA_CONFIG names an XML file the ClickHouse server reads beside its
# config and users (conf.d/): deploy/local/cluster.sh starts its replicas through this script that way.
#
# Idempotent: a server that already answers on its port is reused, not started twice.
# Ports: IOC_LOCAL_CLICKHOUSE_PORT (9000), IOC_LOCAL_CLICKHOUSE_HTTP_PORT (8123),
# IOC_LOCAL_CLICKHOUSE_SECURE_PORT (9440: the native protocol over TLS), IOC_LOCAL_MQTT_PORT (1883),
# IOC_LOCAL_MQTT_SECURE_PORT (8883: MQTT over TLS, client certificates required),
# IOC_LOCAL_MEDIAMTX_API_PORT (9997), _RTSP_PORT (8554), _WEBRTC_PORT (8889), _ICE_PORT (8189,
# UDP), _HLS_PORT (8888), _PLAYBACK_PORT (9996, recordings under <data>/mediamtx/recordings). The secure
# ports' certificates come from a local CA in <data>/tls (ca.crt; client.crt and client.key are
# a client certificate for ioc and the tools).
#
# Mosquitto runs its dynamic security plugin (device accounts and ACLs, `ioc broker sync`); its
# admin is "admin" with the password in <data>/mosquitto/admin-password. Anonymous clients are
# let in on loopback for development (the simulated province, the tests): a province's broker
# lets none in (docs/SECURITY.md). Data folder: IOC_LOCAL_DATA (<repo>/.data/local).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
data=${IOC_LOCAL_DATA:-$repo/.data/local}
# shellcheck source=deploy/local/lib.sh
who=services
. "$here/lib.sh"
ch_port=${IOC_LOCAL_CLICKHOUSE_PORT:-9000}
ch_http_port=${IOC_LOCAL_CLICKHOUSE_HTTP_PORT:-8123}
ch_secure_port=${IOC_LOCAL_CLICKHOUSE_SECURE_PORT:-9440}
mqtt_port=${IOC_LOCAL_MQTT_PORT:-1883}
ch_dir=$data/clickhouse
mq_dir=$data/mosquitto
tls_dir=$data/tls
mqtt_secure_port=${IOC_LOCAL_MQTT_SECURE_PORT:-8883}
mtx_dir=$data/mediamtx
mtx_api_port=${IOC_LOCAL_MEDIAMTX_API_PORT:-9997}
mtx_rtsp_port=${IOC_LOCAL_MEDIAMTX_RTSP_PORT:-8554}
mtx_webrtc_port=${IOC_LOCAL_MEDIAMTX_WEBRTC_PORT:-8889}
mtx_ice_port=${IOC_LOCAL_MEDIAMTX_ICE_PORT:-8189}
mtx_hls_port=${IOC_LOCAL_MEDIAMTX_HLS_PORT:-8888}
mtx_playback_port=${IOC_LOCAL_MEDIAMTX_PLAYBACK_PORT:-9996}
# MediaMTX asks ioc whether each viewer may watch a camera (make demo's ioc on 8080).
mtx_auth=${IOC_LOCAL_MEDIAMTX_AUTH:-http://127.0.0.1:8080/api/v1/video/auth}

# (bounded: a client that reached another server's port would wait for ever)
ch_answers() { timeout 10 clickhouse-client --host 127.0.0.1 --port "$ch_port" --query 'SELECT 1' >/dev/null 2>&1; }
mq_answers() { mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" -q 0 -t ioc/local/ping -m ping >/dev/null 2>&1; }

# install_missing installs the Debian packages that are not there yet.
install_missing() {
  local missing=()
  command -v clickhouse-server >/dev/null || missing+=(clickhouse-server)
  command -v clickhouse-client >/dev/null || missing+=(clickhouse-client)
  command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
  command -v mosquitto_pub >/dev/null || missing+=(mosquitto-clients)
  # The local CA of the servers' secure ports.
  command -v openssl >/dev/null || missing+=(openssl)
  # Third-party RTSP peers for the camera tests: ffprobe/ffmpeg read our simulated cameras,
  # GStreamer's RTSP server (Debian's python3 with python3-gi) streams x264 to our client.
  command -v ffprobe >/dev/null || missing+=(ffmpeg)
  /usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0"); from gi.repository import GstRtspServer' 2>/dev/null ||
    missing+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good)
  gst-inspect-1.0 x264enc >/dev/null 2>&1 || missing+=(gstreamer1.0-plugins-ugly gstreamer1.0-tools)
  # The alert tests' mail sink (aiosmtpd, a real SMTP server) and CAP 1.2 schema check (xmllint).
  /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || missing+=(python3-aiosmtpd)
  command -v xmllint >/dev/null || missing+=(libxml2-utils)
  # MediaMTX's build takes hls.js from the npm registry (deploy/local/mediamtx.sh).
  command -v npm >/dev/null || missing+=(npm)
  # The web UI's browser tests drive Debian's headless Chromium (fonts for Vietnamese text).
  command -v chromium >/dev/null || missing+=(chromium fonts-noto-core)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    die "missing packages: ${missing[*]}. Install them as root: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
  fi
  say "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # policy-rc.d keeps the packages' own service scripts from starting a second, system-wide copy.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# make_tls: a local CA (ca.crt) in $tls_dir, a server certificate for 127.0.0.1 and localhost
# signed by it (server.crt, server.key) for the local servers' secure ports, and a client
# certificate (client.crt, client.key) for ioc and the tools; kept once made.
make_tls() {
  local dir=$tls_dir
  [ -s "$dir/server.crt" ] && [ -s "$dir/client.crt" ] && return 0
  command -v openssl >/dev/null || die "openssl is missing: apt-get install openssl"
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=Hai Dang IOC local CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  local name
  for name in server client; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=ioc-local-$name" \
      -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null
    if [ "$name" = server ]; then
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$dir/ext.cnf"
    else
      printf 'extendedKeyUsage=clientAuth\n' >"$dir/ext.cnf"
    fi
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 825 \
      -extfile "$dir/ext.cnf" -out "$dir/$name.crt" 2>/dev/null
  done
  chmod 600 "$dir"/*.key
  rm -f "$dir"/*.csr "$dir/ext.cnf"
}

start_clickhouse() {
  if ch_answers; then say "ClickHouse already answers on 127.0.0.1:$ch_port: reusing it"; return 0; fi
  port_open "$ch_port" && die "port $ch_port is taken by something that is not ClickHouse"
  mkdir -p "$ch_dir"/{data,tmp,user_files,format_schemas,log}
  make_tls
  # A copy of Debian's config with every path pointed into the repo's data folder, loopback only.
  sed -e "s#<path>/var/lib/clickhouse/</path>#<path>$ch_dir/data/</path>#" \
      -e "s#<tmp_path>.*</tmp_path>#<tmp_path>$ch_dir/tmp/</tmp_path>#" \
      -e "s#<user_files_path>.*</user_files_path>#<user_files_path>$ch_dir/user_files/</user_files_path>#" \
      -e "s#<format_schema_path>.*</format_schema_path>#<format_schema_path>$ch_dir/format_schemas/</format_schema_path>#" \
      -e "s#<log>.*</log>#<log>$ch_dir/log/clickhouse-server.log</log>#" \
      -e "s#<errorlog>.*</errorlog>#<errorlog>$ch_dir/log/clickhouse-server.err.log</errorlog>#" \
      -e "s#<tcp_port>.*</tcp_port>#<tcp_port>$ch_port</tcp_port>#" \
      -e "s#<http_port>.*</http_port>#<http_port>$ch_http_port</http_port>#" \
      -e "s#<tcp_port_secure>.*</tcp_port_secure>##" \
      -e "s#<https_port>.*</https_port>##" \
      -e "s#<tcp_port>\(.*\)</tcp_port>#<tcp_port>\1</tcp_port><tcp_port_secure>$ch_secure_port</tcp_port_secure>#" \
      -e "s#<certificateFile>/etc/clickhouse-server/server.crt</certificateFile>#<certificateFile>$tls_dir/server.crt</certificateFile>#" \
      -e "s#<privateKeyFile>/etc/clickhouse-server/server.key</privateKeyFile>#<privateKeyFile>$tls_dir/server.key</privateKeyFile>#" \
      -e "/<dhParamsFile>/d" \
      -e "/<interserver_http_port>/d" \
      -e "/<listen_host>::1<\/listen_host>/d" \
      /etc/clickhouse-server/config.xml >"$ch_dir/config.xml"
  grep -q "<listen_host>127.0.0.1</listen_host>" "$ch_dir/config.xml" ||
    die "Debian's ClickHouse config changed shape: no <listen_host>127.0.0.1</listen_host> to keep"
  cp /etc/clickhouse-server/users.xml "$ch_dir/users.xml"
  # A cluster's replica (deploy/local/cluster.sh) adds its own settings: ZooKeeper, the cluster,
  # its macros and its interserver port.
  # conf.d/ is read for both config.xml and users.xml (profiles).
  rm -rf "$ch_dir/conf.d"
  if [ -n "${IOC_LOCAL_CLICKHOUSE_EXTRA_CONFIG:-}" ]; then
    mkdir -p "$ch_dir/conf.d"
    cp "$IOC_LOCAL_CLICKHOUSE_EXTRA_CONFIG" "$ch_dir/conf.d/"
  fi
  say "starting ClickHouse on 127.0.0.1:$ch_port (data in $ch_dir)"
  # setsid detaches it from the terminal (Ctrl-C on `make demo` must not stop it); the inner
  # shell records its own pid and then becomes the server, so the pid file names the server.
  # setsid -f forks, so no shell of this script stays behind holding our stdout (a caller
  # reading it through a pipe would otherwise wait for the server to stop).
  (cd "$ch_dir" && exec setsid -f sh -c 'echo $$ >"$1/pid"; exec clickhouse-server --config-file="$1/config.xml"' \
    sh "$ch_dir") >"$ch_dir/log/stdout.log" 2>&1 </dev/null
  wait_for ClickHouse ch_answers 60 "$ch_dir/log/clickhouse-server.err.log"
}

start_mosquitto() {
  if mq_answers; then say "an MQTT broker already answers on 127.0.0.1:$mqtt_port: reusing it"; return 0; fi
  port_open "$mqtt_port" && die "port $mqtt_port is taken by something that is not an MQTT broker"
  mkdir -p "$mq_dir/data"
  # max_inflight_messages 0: ingest acknowledges a QoS 1 message only once its readings are stored,
  # so a whole batch is in flight at once; the default window of 20 would cap throughput at
  # 20 messages per flush. max_queued_messages keeps a persistent session's backlog while ioc is
  # down. Mosquitto's autosave writes its whole in-memory store and the broker serves nothing
  # meanwhile (a 137 MB store stalled every client for 0.6 s every 10 s), so it runs every 5 min
  # (a graceful stop saves too), and persistent_client_expiration drops the sessions of test
  # servers that never come back before their queues fill the store. docs/OPERATIONS.md says
  # what a production broker needs.
  make_tls
  local plugin
  plugin=$(ls /usr/lib/*/mosquitto_dynamic_security.so 2>/dev/null | head -n 1)
  [ -n "$plugin" ] || die "Mosquitto's dynamic security plugin is missing (Debian's mosquitto package ships it)"
  if [ ! -s "$mq_dir/dynsec.json" ]; then
    (umask 077; openssl rand -hex 16 >"$mq_dir/admin-password")
    mosquitto_ctrl dynsec init "$mq_dir/dynsec.json" admin "$(cat "$mq_dir/admin-password")" >/dev/null
  fi
  cat >"$mq_dir/mosquitto.conf" <<CONF
# Written by deploy/local/services.sh; edits are overwritten at the next start.
per_listener_settings false
listener $mqtt_port 127.0.0.1
listener $mqtt_secure_port 127.0.0.1
cafile $tls_dir/ca.crt
certfile $tls_dir/server.crt
keyfile $tls_dir/server.key
require_certificate true
allow_anonymous true
plugin $plugin
plugin_opt_config_file $mq_dir/dynsec.json
user $(id -un)
persistence true
persistence_location $mq_dir/data/
autosave_interval 300
persistent_client_expiration 1h
log_dest file $mq_dir/mosquitto.log
log_type error
log_type warning
log_type notice
pid_file $mq_dir/pid
max_inflight_messages 0
max_queued_messages 2000000
max_queued_bytes 0
CONF
  say "starting Mosquitto on 127.0.0.1:$mqtt_port (data in $mq_dir)"
  rm -f "$mq_dir/pid"
  mosquitto -c "$mq_dir/mosquitto.conf" -d
  wait_for "Mosquitto's port" "port_open $mqtt_port" 20 "$mq_dir/mosquitto.log"
  # Development only: anonymous clients on loopback may do anything (the dev-anonymous group).
  # Repeated at every start; "already exists" answers are expected.
  mosquitto_rr -h 127.0.0.1 -p "$mqtt_port" -u admin -P "$(cat "$mq_dir/admin-password")" -W 5 \
    -t '$CONTROL/dynamic-security/v1' -e '$CONTROL/dynamic-security/v1/response' \
    -m '{"commands":[{"command":"createRole","rolename":"dev-anonymous","acls":[{"acltype":"publishClientSend","topic":"#","allow":true},{"acltype":"subscribePattern","topic":"#","allow":true},{"acltype":"publishClientReceive","topic":"#","allow":true}]},{"command":"createGroup","groupname":"dev-anonymous","roles":[{"rolename":"dev-anonymous"}]},{"command":"setAnonymousGroup","groupname":"dev-anonymous"}]}' \
    >/dev/null || die "the dynamic security plugin did not answer (see $mq_dir/mosquitto.log)"
  wait_for Mosquitto mq_answers 20 "$mq_dir/mosquitto.log"
}

# start_mediamtx starts MediaMTX (built from its Go module by mediamtx.sh) on loopback: control
# API, RTSP, WebRTC (WHEP, ICE over UDP) and HLS; every viewer is checked by ioc.
start_mediamtx() {
  if port_open "$mtx_api_port"; then say "something already answers on 127.0.0.1:$mtx_api_port (MediaMTX's API): reusing it"; return 0; fi
  local bin
  bin=$("$here/mediamtx.sh" path)
  mkdir -p "$mtx_dir"
  cat >"$mtx_dir/mediamtx.yml" <<CONF
# Written by deploy/local/services.sh at every start.
logLevel: info
api: yes
apiAddress: 127.0.0.1:$mtx_api_port
rtsp: yes
rtspTransports: [tcp]
rtspAddress: 127.0.0.1:$mtx_rtsp_port
webrtc: yes
webrtcAddress: 127.0.0.1:$mtx_webrtc_port
webrtcLocalUDPAddress: 127.0.0.1:$mtx_ice_port
webrtcIPsFromInterfaces: no
webrtcAdditionalHosts: [127.0.0.1]
hls: yes
hlsAddress: 127.0.0.1:$mtx_hls_port
hlsVariant: lowLatency
playback: yes
playbackAddress: 127.0.0.1:$mtx_playback_port
pathDefaults:
  recordPath: $mtx_dir/recordings/%path/%Y-%m-%d_%H-%M-%S-%f
rtmp: no
srt: no
authMethod: http
authHTTPAddress: $mtx_auth
authHTTPExclude: [{action: api}, {action: metrics}, {action: pprof}]
paths: {}
CONF
  say "starting MediaMTX: API 127.0.0.1:$mtx_api_port, WebRTC http://127.0.0.1:$mtx_webrtc_port, HLS http://127.0.0.1:$mtx_hls_port"
  rm -f "$mtx_dir/pid"
  nohup "$bin" "$mtx_dir/mediamtx.yml" >"$mtx_dir/mediamtx.log" 2>&1 &
  echo $! >"$mtx_dir/pid"
  wait_for MediaMTX "port_open $mtx_api_port" 20 "$mtx_dir/mediamtx.log"
}

status() {
  local rc=0
  if ch_answers; then say "ClickHouse answers on 127.0.0.1:$ch_port"; else say "ClickHouse: not answering on 127.0.0.1:$ch_port"; rc=1; fi
  if mq_answers; then say "MQTT broker answers on 127.0.0.1:$mqtt_port"; else say "MQTT broker: not answering on 127.0.0.1:$mqtt_port"; rc=1; fi
  if port_open "$mtx_api_port"; then say "MediaMTX's API answers on 127.0.0.1:$mtx_api_port"; else say "MediaMTX: not answering on 127.0.0.1:$mtx_api_port"; rc=1; fi
  return $rc
}

case "${1:-}" in
  start)
    install_missing
    start_clickhouse
    start_mosquitto
    start_mediamtx # the tests start their own from the same binary
    say "ready: ClickHouse 127.0.0.1:$ch_port, MQTT tcp://127.0.0.1:$mqtt_port, MediaMTX http://127.0.0.1:$mtx_api_port"
    ;;
  stop)
    stop_one MediaMTX "$mtx_dir/pid"
    stop_one Mosquitto "$mq_dir/pid"
    stop_one ClickHouse "$ch_dir/pid"
    ;;
  status) status ;;
  install) install_missing ;;
  start-clickhouse) install_missing; start_clickhouse ;;
  stop-clickhouse) stop_one ClickHouse "$ch_dir/pid" ;;
  start-mosquitto) install_missing; start_mosquitto ;;
  stop-mosquitto) stop_one Mosquitto "$mq_dir/pid" ;;
  start-mediamtx) start_mediamtx ;;
  stop-mediamtx) stop_one MediaMTX "$mtx_dir/pid" ;;
  *) echo "usage: $0 start|stop|status|install|start-clickhouse|stop-clickhouse|start-mosquitto|stop-mosquitto|start-mediamtx|stop-mediamtx" >&2; exit 2 ;;
esac
