#!/usr/bin/env bash
# deps.sh: installs what the build and the tests need, idempotently.
#
# Debian packages (only when one is missing: then `apt-get update` and one
# `apt-get install`), then the Go modules (`go mod download`, so that the tests
# can run inside scripts/netns.sh with GOPROXY=off).
# Quiet on success; on failure prints what failed and the tool's output.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Build: gcc/libc6-dev/libx11-dev/libxtst-dev (cgo: robotgo, capture),
# libjpeg62-turbo-dev (capture links libjpeg-turbo's static libjpeg.a).
# Tests: xvfb, xclip/xsel (clipboard), xdotool + x11-utils (read back X events,
# xdpyinfo), xterm + x11-apps + xfonts-base (demo desktop, test windows),
# chromium (browser tests), iproute2 + util-linux (ip, unshare: scripts/netns.sh),
# curl + ca-certificates (demo health check), x11vnc (make bench compares with it),
# debootstrap + systemd-container (the systemd service test boots a Debian root with systemd-nspawn).
APT_PACKAGES=(
	gcc libc6-dev libx11-dev libxtst-dev libjpeg62-turbo-dev
	xvfb xclip xsel xdotool x11-utils x11-apps xterm xfonts-base
	chromium x11vnc
	iproute2 util-linux ca-certificates curl
	debootstrap systemd-container
)

log=$(mktemp)
trap 'rm -f "$log"' EXIT

die() {
	echo "deps.sh: $*" >&2
	if [ -s "$log" ]; then
		echo "---- output ----" >&2
		tail -n 60 "$log" >&2
		echo "----------------" >&2
	fi
	exit 1
}

missing=()
for p in "${APT_PACKAGES[@]}"; do
	# "ii " = wanted install, currently installed; anything else (absent,
	# removed with config files left, half-configured) counts as missing.
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case "$st" in
	ii*) ;;
	*) missing+=("$p") ;;
	esac
done

if [ "${#missing[@]}" -gt 0 ]; then
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1; then
			sudo=(sudo -n)
		else
			die "missing Debian packages: ${missing[*]}; run as root (or install them by hand)"
		fi
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt_opts=(-y -q -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)
	"${sudo[@]}" apt-get "${apt_opts[@]}" update >"$log" 2>&1 ||
		die "apt-get update failed (needed for: ${missing[*]})"
	"${sudo[@]}" apt-get "${apt_opts[@]}" install --no-install-recommends "${missing[@]}" >"$log" 2>&1 ||
		die "apt-get install failed for: ${missing[*]}"
	# Check again: apt can exit 0 and still leave a package unconfigured.
	for p in "${missing[@]}"; do
		st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
		case "$st" in
		ii*) ;;
		*) die "package $p is still not installed after apt-get install (status '${st:-none}')" ;;
		esac
	done
fi

command -v go >/dev/null 2>&1 || die "go not found in PATH (expected /usr/local/go/bin)"
# Modules needed to build and test every package of the module.
go mod download >"$log" 2>&1 || die "go mod download failed"
