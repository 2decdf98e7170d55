// Package installer registers and removes the temporary service that
// brings the agent back after a reboot the rep asked for (through
// kardianos/service): a system service when the agent runs with the rights
// for one, otherwise a per-user service that starts at login (systemd
// --user, or an XDG autostart entry where there is no systemd). The unit
// files are our own, with a restart delay of seconds (kardianos's systemd
// unit waits 120 s), and Uninstall removes everything the backends leave
// behind (SysV rc links, logs, pid files). It also restarts the machine.
//
// It imports nothing of ours: the agent and cmd/assist wire it.
package installer
