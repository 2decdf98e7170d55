// Package rawio reads and writes sockets through raw system calls, on
// Linux, so that the Go runtime's system monitor is not woken for them.
//
// Every system call made through the syscall package (net.Conn's Read and
// Write among them) tells the runtime it may block; when the runtime's
// system monitor sleeps because every processor is idle, that call wakes
// it, and it then polls every 20 µs for as long as any processor is busy.
// The agent's screen stream is a chain of small bursts (an X event, an X
// reply, a packet out, an acknowledgement in), each of which woke it. Reads
// and writes on non-blocking sockets never block, so they need not say so:
// done through syscall.RawConn with raw system calls, they leave the
// monitor asleep (phases of make bench: a third fewer context switches
// than the build before, which kept the monitor awake instead). Waiting for a socket to be ready still goes through the
// runtime's network poller, so deadlines and Close work as for any
// net.Conn.
//
// Elsewhere the connections are returned as they are.
package rawio
