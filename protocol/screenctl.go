package protocol

import "fmt"

// MaxMonitors bounds the monitors a CtlMonitors message lists.
const MaxMonitors = 16

// MonitorInfo is one of the customer's monitors, in the coordinates of the
// whole desktop.
type MonitorInfo struct {
	X       int  `json:"x"`
	Y       int  `json:"y"`
	W       int  `json:"w"`
	H       int  `json:"h"`
	Primary bool `json:"primary,omitempty"`
}

func (c Control) validateMonitors() error {
	if len(c.Monitors) > MaxMonitors {
		return fmt.Errorf("%d monitors", len(c.Monitors))
	}
	if c.Monitor < 0 || c.Monitor > MaxMonitors || c.Type == CtlMonitors && c.Monitor > len(c.Monitors) {
		return fmt.Errorf("monitor %d out of range", c.Monitor)
	}
	for _, m := range c.Monitors {
		if m.W <= 0 || m.H <= 0 || m.W > MaxDimension || m.H > MaxDimension ||
			m.X < 0 || m.Y < 0 || m.X > MaxDimension || m.Y > MaxDimension {
			return fmt.Errorf("monitor %dx%d+%d+%d out of range", m.W, m.H, m.X, m.Y)
		}
	}
	return nil
}
