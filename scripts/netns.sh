#!/usr/bin/env bash
# netns.sh CMD [ARGS...]: runs CMD in a private network namespace where only
# loopback (lo, 127.0.0.1 and ::1) is up, so nothing a test starts can reach
# or be reached from the machine's other interfaces.
#
# Inside: GOPROXY=off and GOFLAGS=-mod=readonly (nothing tries the network;
# run scripts/deps.sh first so the module cache is complete), and
# ASSIST_NETNS=on so tests can tell they are in the namespace.
#
# Needs root (unshare -n). ASSIST_NETNS=off runs CMD directly instead, with
# the machine's network, and says so.
set -euo pipefail

if [ "$#" -eq 0 ]; then
	echo "usage: scripts/netns.sh CMD [ARGS...]" >&2
	exit 2
fi

export GOPROXY=off
export GOFLAGS="-mod=readonly${GOFLAGS:+ $GOFLAGS}"

if [ "${ASSIST_NETNS:-}" = off ]; then
	echo "netns.sh: ASSIST_NETNS=off: running '$1' WITHOUT a private network namespace (the machine's network is reachable)" >&2
	exec "$@"
fi

if ! command -v unshare >/dev/null 2>&1 || ! command -v ip >/dev/null 2>&1; then
	echo "netns.sh: unshare (util-linux) and ip (iproute2) are needed; run scripts/deps.sh" >&2
	echo "netns.sh: or set ASSIST_NETNS=off to run without a private network namespace" >&2
	exit 1
fi

if ! err=$(unshare -n -- sh -c 'ip link set lo up' 2>&1); then
	echo "netns.sh: cannot create a private network namespace (unshare -n; running as uid $(id -u), root is required):" >&2
	printf '  %s\n' "$err" >&2
	echo "netns.sh: set ASSIST_NETNS=off to run without it (tests then use the machine's network stack)" >&2
	exit 1
fi

export ASSIST_NETNS=on
# shellcheck disable=SC2016 # "$@" is expanded by the inner sh, on purpose.
exec unshare -n -- sh -c 'ip link set lo up && exec "$@"' sh "$@"
