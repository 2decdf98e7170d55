package chatwin

// ActCancelFile: the customer pressed Cancel on a file transfer; Text is
// the transfer's id.
const ActCancelFile = "cancel_file"

// Transfer is one file transfer as the window shows it (the agent fills it
// from its transfers; this package imports none of them).
type Transfer struct {
	ID    string  `json:"id"`
	Name  string  `json:"name"`
	Send  bool    `json:"send"` // to the support technician, or from them
	Size  int64   `json:"size"`
	Bytes int64   `json:"bytes"` // verified so far
	Rate  float64 `json:"rate"`  // bytes per second
	ETA   float64 `json:"eta"`   // seconds left, 0 when unknown
	State string  `json:"state"` // offered, asking, running, waiting, done, failed, cancelled, refused
	Error string  `json:"error,omitempty"`
	Path  string  `json:"path,omitempty"` // where a received file was saved
	Away  bool    `json:"away,omitempty"` // waiting: the support technician's connection is gone (kept for their return)
}

// SetTransfers shows the session's file transfers, with progress and a
// Cancel button for those still running.
func (w *Window) SetTransfers(ts []Transfer) {
	if ts == nil {
		ts = []Transfer{}
	}
	w.mu.Lock()
	w.transfers = ts
	w.mu.Unlock()
	w.broadcast(message{Type: "transfers", Transfers: ts})
}
