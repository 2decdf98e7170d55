package protocol

import "time"

// SessionInfo is a session as the server's REST API (/api/sessions) shows it
// to reps.
type SessionInfo struct {
	Code     string     `json:"code"`
	Session  string     `json:"session"`
	State    string     `json:"state"`
	Reason   string     `json:"reason,omitempty"`
	Created  time.Time  `json:"created"`
	Expires  time.Time  `json:"expires"`
	Deadline *time.Time `json:"deadline,omitempty"` // when a suspended session ends
	Agent    *AgentInfo `json:"agent,omitempty"`
	Reps     int        `json:"reps"` // rep connections attached
}
