// Package transfer streams files between the rep and the customer over a
// small Channel interface: chunked, flow-controlled so that the screen and
// input are never starved, resumable from the last verified block, checked
// by SHA-256, and written through a temporary file so that no damaged or
// truncated file is ever left under the final name.
package transfer
