#!/usr/bin/env bash
# demo.sh: starts the whole product on this machine and prints how to use it.
#
#   - an X display: $DISPLAY when it answers, otherwise a fresh Xvfb (1920x1080)
#     with a small desktop on it (an xterm and an xclock);
#   - assist-server on $ASSIST_LISTEN (default 127.0.0.1:8200) with a rep token
#     ($ASSIST_REP_TOKEN, or a random one);
#   - a session created with assist-rep, and the agent (assist join) sharing the
#     display into it.
# Ctrl+C (or TERM, or any failure) stops everything it started.
#
# Binaries come from $ASSIST_BIN (default bin/: run `make build` or `make demo`).
# Logs go to $ASSIST_DEMO_LOGS (default out/demo/). ASSIST_ICE_LOOPBACK defaults to
# 1 (WebRTC candidates on 127.0.0.1 only); set it to 0 to use other interfaces.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

BIN=${ASSIST_BIN:-$root/bin}
LISTEN=${ASSIST_LISTEN:-127.0.0.1:8200}
LOGS=${ASSIST_DEMO_LOGS:-$root/out/demo}
URL="http://$LISTEN"
# Everything runs on this machine: keep WebRTC on loopback (internal/peerconn).
export ASSIST_ICE_LOOPBACK=${ASSIST_ICE_LOOPBACK:-1}

say() { printf 'demo: %s\n' "$*"; }
die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}
# Shows the end of a log after a failure.
show_log() {
	if [ -s "$1" ]; then
		echo "---- last lines of $1 ----" >&2
		tail -n 30 "$1" >&2
		echo "----" >&2
	fi
}

for b in assist assist-server assist-rep; do
	[ -x "$BIN/$b" ] || die "$BIN/$b not found: run 'make build' first (or 'make demo')"
done
mkdir -p "$LOGS"
tmp=$(mktemp -d)

# Every child runs under setsid, so it leads its own process group: Ctrl+C in the
# terminal reaches only this script, which then stops each group (the child and
# whatever it spawned, e.g. the shell in xterm or clipboard helpers) in reverse
# start order.
pids=()
names=()
start() { # start NAME LOGFILE CMD... ; sets $started to the pid
	local name=$1 logf=$2
	shift 2
	setsid "$@" >"$logf" 2>&1 </dev/null &
	started=$!
	pids+=("$started")
	names+=("$name")
}

cleanup() {
	local rc=$?
	trap - INT TERM EXIT
	if [ "${#pids[@]}" -gt 0 ]; then
		say "stopping ${names[*]}..."
		local i
		for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
			kill -TERM -- "-${pids[i]}" 2>/dev/null || kill -TERM "${pids[i]}" 2>/dev/null || true
		done
		# Up to 5 s for a clean exit, then SIGKILL what is left.
		local n
		for ((n = 0; n < 50; n++)); do
			local alive=0 p
			for p in "${pids[@]}"; do
				if kill -0 "$p" 2>/dev/null; then alive=1; fi
			done
			[ "$alive" -eq 0 ] && break
			sleep 0.1
		done
		for p in "${pids[@]}"; do
			kill -KILL -- "-$p" 2>/dev/null || true
		done
		wait 2>/dev/null || true
		say "stopped. Logs: $LOGS"
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

alive() { kill -0 "$1" 2>/dev/null; }

# ---- display ----
if [ -n "${DISPLAY:-}" ] && xdpyinfo >/dev/null 2>&1; then
	say "using the existing display $DISPLAY"
else
	command -v Xvfb >/dev/null 2>&1 || die "Xvfb not found: run scripts/deps.sh (or make deps)"
	mkfifo "$tmp/displayfd"
	# Xvfb writes the display number to fd 3 once it accepts connections.
	# (The fifo is opened by the background child, so nothing blocks here.)
	setsid Xvfb -displayfd 3 -screen 0 1920x1080x24 -noreset -nolisten tcp \
		3>"$tmp/displayfd" >"$LOGS/xvfb.log" 2>&1 </dev/null &
	xvfb_pid=$!
	pids+=("$xvfb_pid")
	names+=(Xvfb)
	num=""
	# If Xvfb dies first, the pipe closes and read fails at once.
	read -r -t 15 num <"$tmp/displayfd" || true
	if [ -z "$num" ] || ! alive "$xvfb_pid"; then
		show_log "$LOGS/xvfb.log"
		die "Xvfb did not start"
	fi
	export DISPLAY=":$num"
	say "started Xvfb on $DISPLAY (1920x1080x24)"
	# A small desktop to look at and to drive.
	# shellcheck disable=SC2016
	start xterm "$LOGS/xterm.log" xterm -geometry 100x30+40+40 -T "assist demo" \
		-e sh -c 'echo "assist demo desktop"; echo "display $DISPLAY"; exec bash'
	if command -v xclock >/dev/null 2>&1; then
		start xclock "$LOGS/xclock.log" xclock -geometry 200x200+1200+60 -update 1
	fi
fi

# ---- server ----
TOKEN=${ASSIST_REP_TOKEN:-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')}

health() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsS --max-time 1 "$URL/healthz" >/dev/null 2>&1
	else
		# No curl: a bare HTTP/1.0 request over bash's /dev/tcp.
		(
			host=${LISTEN%:*} port=${LISTEN##*:}
			host=${host#[}
			host=${host%]}
			exec 9<>"/dev/tcp/$host/$port"
			printf 'GET /healthz HTTP/1.0\r\nHost: %s\r\n\r\n' "$LISTEN" >&9
			read -r -t 1 line <&9
			[[ $line == "HTTP/1."?" 2"* ]]
		) 2>/dev/null
	fi
}

if health; then
	die "something already answers on $URL: stop it or set ASSIST_LISTEN=127.0.0.1:PORT"
fi

server_args=(serve --listen "$LISTEN" --rep-token "$TOKEN")
if [ -d "$root/dist/downloads" ]; then
	server_args+=(--downloads "$root/dist/downloads")
fi
start assist-server "$LOGS/server.log" "$BIN/assist-server" "${server_args[@]}"
server_pid=$started

# Up to 10 s for the server to answer (this waits on an external process).
ok=0
for ((n = 0; n < 100; n++)); do
	if health; then
		ok=1
		break
	fi
	alive "$server_pid" || break
	sleep 0.1
done
if [ "$ok" -ne 1 ]; then
	show_log "$LOGS/server.log"
	alive "$server_pid" || die "assist-server exited before answering on $URL/healthz"
	die "assist-server did not answer on $URL/healthz within 10 s"
fi

# ---- session and agent ----
if ! CODE=$("$BIN/assist-rep" --server "$URL" --token "$TOKEN" new 2>"$LOGS/rep-new.log"); then
	show_log "$LOGS/rep-new.log"
	die "assist-rep new failed"
fi
CODE=$(printf '%s' "$CODE" | tr -d '[:space:]')
[ -n "$CODE" ] || die "assist-rep new printed no session code"

start agent "$LOGS/agent.log" env DISPLAY="$DISPLAY" "$BIN/assist" join "$CODE" --server "$URL" --yes --no-browser
agent_pid=$started
# The customer's chat window: the agent prints its address (--no-browser keeps
# a browser from starting on the virtual desktop); wait for it, bounded.
CHAT=""
for _ in $(seq 1 100); do
	CHAT=$(sed -n 's/.*Chat window: \(http[^ ]*\).*/\1/p' "$LOGS/agent.log" 2>/dev/null | head -n 1)
	[ -n "$CHAT" ] && break
	alive "$agent_pid" || break
	sleep 0.1
done

cat <<EOF

  assist demo is running
  ----------------------
  rep console : $URL/console
  rep token   : $TOKEN
  session code: $CODE
  chat window : ${CHAT:-see $LOGS/agent.log}   (the customer's side: chat, consent, pause, end)
  display     : $DISPLAY   (e.g. DISPLAY=$DISPLAY xterm &)
  rep CLI     : $BIN/assist-rep --server $URL --token $TOKEN ...
  logs        : $LOGS/

  Ctrl+C stops everything.

EOF

# ---- wait ----
# The demo ends when the server or the display goes away (or on Ctrl+C). The
# agent may end on its own (the session ended): say so and keep the rest up.
agent_reported=0
while :; do
	wait -n 2>/dev/null || true
	if ! alive "$server_pid"; then
		show_log "$LOGS/server.log"
		die "assist-server exited"
	fi
	if [ -n "${xvfb_pid:-}" ] && ! alive "$xvfb_pid"; then
		show_log "$LOGS/xvfb.log"
		die "Xvfb exited"
	fi
	if [ "$agent_reported" -eq 0 ] && ! alive "$agent_pid"; then
		agent_reported=1
		show_log "$LOGS/agent.log"
		say "the agent exited (session over?); the server is still up. Ctrl+C stops everything."
	fi
	# wait -n returns at once when no child is left running (only exited ones);
	# guard against a busy loop.
	alive "$server_pid" && sleep 1
done
