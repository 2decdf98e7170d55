// Package input injects the support rep's pointer and keyboard actions into
// the customer's desktop (through robotgo, with explicit key mapping where
// robotgo falls short) and synchronises the clipboard both ways (through
// atotto/clipboard). It imports only the standard library, robotgo and the
// clipboard package; the agent wires it to the session.
package input

import (
	// The design card fixes these two modules for this package; the key and
	// clipboard code that uses them comes with the remote-input work.
	_ "github.com/atotto/clipboard"
	_ "github.com/go-vgo/robotgo"
)
