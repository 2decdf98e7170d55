package main

import (
	"errors"
	"fmt"
	"time"

	"assist/agent"
	"assist/protocol"
	"assist/reconnect"
)

// session says which session the agent runs and where its ticket lives.
type session struct {
	server, code, ticket string
	resume               *agent.Resume
}

// sessionFiles reads `join CODE` or `resume` (from the ticket).
func sessionFiles(resume bool, pos []string, ticket, server string) (session, error) {
	if ticket == "" {
		p, err := reconnect.DefaultTicketPath()
		if err != nil && resume {
			return session{}, err
		}
		ticket = p
	}
	if !resume {
		if len(pos) != 1 {
			return session{}, errors.New("join takes exactly one session code")
		}
		code := protocol.NormalizeCode(pos[0])
		if !protocol.IsCode(code) {
			return session{}, fmt.Errorf("%q is not a session code: the code has nine digits", pos[0])
		}
		return session{server: server, code: code, ticket: ticket}, nil
	}
	if len(pos) != 0 {
		return session{}, errors.New("resume takes no arguments")
	}
	t, err := reconnect.LoadTicket(ticket, time.Now())
	if err != nil {
		return session{}, err
	}
	return session{server: t.Server, ticket: ticket, resume: &agent.Resume{Session: t.Session, Secret: t.Secret}}, nil
}
