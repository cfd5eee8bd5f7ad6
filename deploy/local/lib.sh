# Shell functions deploy/local/services.sh and cluster.sh share; each sets $who (the prefix of
# its messages) before sourcing this file.

say() { printf '%s: %s\n' "$who" "$*" >&2; }
die() { say "error: $*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# tcp_ask PORT REQUEST: sends REQUEST (backslash escapes such as \r\n expanded) to
# 127.0.0.1:PORT and prints what the server answers within 2 s; fails when nothing listens there.
tcp_ask() { (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf '%b' "$2" >&3 && timeout 2 cat <&3) 2>/dev/null; }

wait_for() { # wait_for NAME CHECK_FN SECONDS LOGFILE
  local name=$1 check=$2 secs=$3 log=$4 i
  for ((i = 0; i < secs * 5; i++)); do
    if $check; then return 0; fi
    sleep 0.2
  done
  say "$name did not answer within ${secs}s; last lines of $log:"
  tail -n 20 "$log" >&2 || true
  return 1
}

stop_one() { # stop_one NAME PIDFILE
  local name=$1 pidfile=$2 pid i
  if [ ! -s "$pidfile" ]; then say "$name: not started by this script"; return 0; fi
  pid=$(cat "$pidfile")
  if ! kill -0 "$pid" 2>/dev/null; then say "$name: not running"; rm -f "$pidfile"; return 0; fi
  kill "$pid"
  for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then say "$name did not stop in 30s: killing"; kill -9 "$pid" || true; fi
  rm -f "$pidfile"
  say "$name stopped (pid $pid)"
}
