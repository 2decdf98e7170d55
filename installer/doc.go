// Package installer installs and uninstalls the agent silently for IT, and
// registers the temporary service (through kardianos/service) that brings the
// agent back after a reboot the rep asked for.
package installer

import (
	// Fixed by the design card for this package; the service code that uses
	// it comes with the reboot-and-reconnect work.
	_ "github.com/kardianos/service"
)
