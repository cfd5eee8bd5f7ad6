#!/bin/sh
# Starts Mosquitto for deploy/compose.yaml with its dynamic security plugin: on the first start
# it makes the plugin's admin ("admin", password $MOSQUITTO_ADMIN_PASSWORD); at every start it
# lets anonymous clients into the dev-anonymous group, for the simulated province of the demo.
# A province's broker lets no anonymous client in: remove that group (docs/SECURITY.md) and
# give every device its account with `ioc broker sync`.
set -eu
dir=${MOSQUITTO_DIR:-/mosquitto}
conf=${MOSQUITTO_CONF:-$dir/config/mosquitto.conf}
: "${MOSQUITTO_ADMIN_PASSWORD:?set MOSQUITTO_ADMIN_PASSWORD (the dynamic security plugin's admin)}"
if [ ! -s "$dir/data/dynsec.json" ]; then
  mosquitto_ctrl dynsec init "$dir/data/dynsec.json" admin "$MOSQUITTO_ADMIN_PASSWORD" >/dev/null
fi
# as root, Mosquitto drops to its own user, which must own its data (the image's entrypoint,
# replaced by this script, did the same)
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then chown -R mosquitto:mosquitto "$dir/data"; fi
mosquitto -c "$conf" &
pid=$!
trap 'kill -TERM $pid' TERM INT
i=0
until mosquitto_rr -h 127.0.0.1 -p "${MOSQUITTO_PORT:-1883}" -u admin -P "$MOSQUITTO_ADMIN_PASSWORD" -W 2 \
  -t '$CONTROL/dynamic-security/v1' -e '$CONTROL/dynamic-security/v1/response' \
  -m '{"commands":[{"command":"createRole","rolename":"dev-anonymous","acls":[{"acltype":"publishClientSend","topic":"#","allow":true},{"acltype":"subscribePattern","topic":"#","allow":true}]},{"command":"createGroup","groupname":"dev-anonymous","roles":[{"rolename":"dev-anonymous"}]},{"command":"setAnonymousGroup","groupname":"dev-anonymous"}]}' >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -ge 30 ]; then echo "mosquitto-start: the dynamic security plugin did not answer" >&2; break; fi
  sleep 1
done
wait "$pid"
