package agent

import (
	"time"

	"assist/reconnect"
)

// Resume names the session a restarted agent continues (from the resume
// ticket) instead of joining with a code.
type Resume struct {
	Session string
	Secret  string
}

// saveTicketLocked writes the resume ticket (a.mu held): the session and
// the current one-time secret, valid for the reconnect window.
func (a *agent) saveTicketLocked() {
	if a.cfg.TicketPath == "" || a.session == "" {
		return
	}
	t := reconnect.Ticket{Server: a.cfg.Server, Session: a.session, Secret: a.secret, Deadline: time.Now().Add(a.window)}
	if err := t.Save(a.cfg.TicketPath); err != nil {
		a.log.Warn("cannot keep the resume ticket", "err", err)
	}
}

// removeTicket removes the ticket: the session is over.
func (a *agent) removeTicket() {
	if a.cfg.TicketPath == "" {
		return
	}
	if err := reconnect.RemoveTicket(a.cfg.TicketPath); err != nil {
		a.log.Warn("cannot remove the resume ticket", "err", err)
	}
}
