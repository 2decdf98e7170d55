package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"assist/protocol"
	"assist/rep"
)

// chat sends text (when given) to the customer and prints the session's
// chat, one JSON line each: {"id","from","text","time"}.
func chat(ctx context.Context, cfg rep.Config, code, text string, timeout time.Duration, stdout io.Writer) error {
	return attached(ctx, cfg, code, timeout, func(ctx context.Context, c *rep.Client) error {
		if err := c.WaitGreeted(ctx); err != nil {
			return fmt.Errorf("chat: %w", err)
		}
		if text != "" {
			if _, err := c.SendChat(ctx, text); err != nil {
				return fmt.Errorf("chat: %w", err)
			}
		}
		enc := json.NewEncoder(stdout)
		for _, l := range c.Chat() {
			enc.Encode(l)
		}
		return nil
	})
}

// reboot asks the customer to restart and reconnect; it succeeds when the
// customer allowed it and the machine is restarting.
func reboot(ctx context.Context, cfg rep.Config, code string, timeout time.Duration, stdout io.Writer) error {
	return attached(ctx, cfg, code, timeout, func(ctx context.Context, c *rep.Client) error {
		ans, err := c.Reboot(ctx)
		if err != nil {
			return fmt.Errorf("reboot: %w", err)
		}
		if ans.State != protocol.RebootRestarting {
			return errors.New("reboot " + ans.State + ": " + ans.Message)
		}
		fmt.Fprintln(stdout, "restarting: "+ans.Message)
		return nil
	})
}
