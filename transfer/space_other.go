//go:build !linux

package transfer

import "errors"

// errQuota never matches where the platform has no separate quota error.
var errQuota = errors.New("transfer: no quota error on this platform")

// freeSpace is unknown here: the transfer is accepted and a full disk is
// caught by the write that fails.
func freeSpace(string) (int64, error) { return -1, nil }
