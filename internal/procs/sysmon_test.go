package procs

import (
	"testing"
	"time"
)

func TestPlanSysmon(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name    string
		godebug string
		uptime  time.Duration
		want    sysmonPlan
	}{
		{"no GODEBUG", "", time.Hour, sysmonPlan{exec: true, godebug: sysmonSetting}},
		{"other settings kept", "madvdontneed=1", time.Hour,
			sysmonPlan{exec: true, godebug: "madvdontneed=1," + sysmonSetting}},
		{"the new image unsets it", sysmonSetting, time.Hour, sysmonPlan{restore: true}},
		{"the new image restores the rest", "madvdontneed=1," + sysmonSetting, time.Hour,
			sysmonPlan{restore: true, godebug: "madvdontneed=1"}},
		{"schedtrace set by hand", "schedtrace=1000", time.Hour, sysmonPlan{}},
		{"schedtrace set by hand among others", "gctrace=1, schedtrace=5", time.Hour, sysmonPlan{}},
		{"a key that only ends like it", "xschedtrace=1", time.Hour,
			sysmonPlan{exec: true, godebug: "xschedtrace=1," + sysmonSetting}},
		{"up too long: it would print", "", 21 * day, sysmonPlan{}},
		{"up just long enough", "", 20 * day, sysmonPlan{exec: true, godebug: sysmonSetting}},
		{"the new image restores even when up long", sysmonSetting, 30 * day, sysmonPlan{restore: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := planSysmon(tt.godebug, tt.uptime); got != tt.want {
				t.Errorf("planSysmon(%q, %v) = %+v, want %+v", tt.godebug, tt.uptime, got, tt.want)
			}
		})
	}
}
