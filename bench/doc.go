// Package bench is benchmark-only: `make bench` runs its TestWorkload (when
// ASSIST_BENCH_OUT names the JSON file to write), a scripted desktop
// workload on a private 1920x1080 Xvfb measured side by side with x11vnc.
// The RFB client here speaks just enough of the protocol to count what
// x11vnc sends with its ZRLE and Tight encodings. Nothing imports this
// package.
package bench
