#!/usr/bin/env bash
# service-root.sh [DIR]: makes (once) the Debian root that the systemd
# service test boots with systemd-nspawn: debootstrap minbase with systemd,
# dbus and the X11 client libraries the agent may link. Cached at DIR
# (default /var/cache/assist-test/bookworm-systemd); ~60 s and ~250 MB the
# first time, nothing afterwards. Needs root and the Debian mirror (so it
# runs outside scripts/netns.sh). Prints the root's path.
set -euo pipefail
dir=${1:-/var/cache/assist-test/bookworm-systemd}
if [ -x "$dir/lib/systemd/systemd" ] && [ -f "$dir/.assist-root-ok" ]; then
	echo "$dir"
	exit 0
fi
for tool in debootstrap systemd-nspawn nsenter; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "service-root.sh: $tool is missing (make deps installs debootstrap and systemd-container)" >&2
		exit 1
	}
done
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
tmp="$dir.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$(dirname "$dir")"
log=$(mktemp)
if ! debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,libx11-6,libxtst6,libxext6 \
	bookworm "$tmp" "$mirror" >"$log" 2>&1; then
	echo "service-root.sh: debootstrap failed:" >&2
	tail -n 30 "$log" >&2
	rm -f "$log"
	exit 1
fi
rm -f "$log"
# No getty on the container's console; a fixed machine id is made at boot.
rm -f "$tmp/etc/machine-id"
touch "$tmp/.assist-root-ok"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "$dir"
