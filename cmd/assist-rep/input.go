package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"assist/protocol"
	"assist/rep"
)

// Remote-control commands: each attaches, asks the customer for control,
// waits for the grant, acts, waits until the agent handled everything, and
// detaches.
const inputUsage = `  type CODE TEXT                       type TEXT on the customer's machine (any script, emoji)
  key CODE NAME...                     press keys or chords in order: ctrl+alt+t, KP_Enter, super, F12, shift+tab
  click CODE X Y [left|middle|right] [--double]
                                       click at screen pixel (X, Y)
  scroll CODE DX DY [--at X,Y]         turn the wheel DX notches right, DY down (default: at the screen's centre)
  clip get CODE                        print the customer's clipboard text
  clip set CODE TEXT                   put TEXT in the customer's clipboard (at most 1 MiB)
    (these ask the customer for control first and wait up to --timeout, default 2m, for the grant)
`

type inputOpts struct {
	fs     *flag.FlagSet
	double *bool
	at     *string
}

func inputFlags(fs *flag.FlagSet) inputOpts {
	return inputOpts{fs: fs, double: fs.Bool("double", false, ""), at: fs.String("at", "", "")}
}

func runInput(ctx context.Context, cfg rep.Config, cmd string, args []string, o inputOpts, timeout time.Duration, stdout io.Writer) error {
	explicit := false
	o.fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "timeout" })
	if !explicit {
		timeout = 2 * time.Minute // a person may have to answer the question
	}
	act, err := inputAction(cmd, args, o, stdout)
	if err != nil {
		return err
	}
	code := args[0]
	if cmd == "clip" {
		code = args[1]
	}
	return attached(ctx, cfg, code, timeout, func(ctx context.Context, c *rep.Client) error {
		if err := c.RequestControl(ctx); err != nil {
			return err
		}
		if err := act(ctx, c); err != nil {
			return err
		}
		if cmd == "clip" {
			return nil
		}
		refused, err := c.SyncInput(ctx)
		if err != nil {
			return err
		}
		if refused > 0 {
			msg := c.LastRemoteError()
			if msg == "" {
				msg = "see the agent's log"
			}
			return fmt.Errorf("the customer's machine refused %d input actions: %s", refused, msg)
		}
		return nil
	})
}

// inputAction checks a command's arguments and returns what it does once
// control is granted.
func inputAction(cmd string, args []string, o inputOpts, stdout io.Writer) (func(context.Context, *rep.Client) error, error) {
	usage := func(form string) error { return fmt.Errorf("usage: assist-rep %s", form) }
	switch cmd {
	case "type":
		if len(args) != 2 || args[1] == "" {
			return nil, usage("type CODE TEXT")
		}
		return func(_ context.Context, c *rep.Client) error { return c.Type(args[1]) }, nil
	case "key":
		if len(args) < 2 {
			return nil, usage("key CODE NAME...")
		}
		keys, err := rep.ParseKeys(args[1:]...)
		if err != nil {
			return nil, err
		}
		return func(_ context.Context, c *rep.Client) error {
			for _, k := range keys {
				if err := c.Key(k.Down, k.Code, k.Key, k.Flags); err != nil {
					return err
				}
			}
			return nil
		}, nil
	case "click":
		if len(args) != 3 && len(args) != 4 {
			return nil, usage("click CODE X Y [left|middle|right] [--double]")
		}
		x, y, err := point(args[1], args[2])
		if err != nil {
			return nil, err
		}
		button := protocol.ButtonLeft
		if len(args) == 4 {
			b, ok := map[string]byte{"left": protocol.ButtonLeft, "middle": protocol.ButtonMiddle, "right": protocol.ButtonRight}[args[3]]
			if !ok {
				return nil, fmt.Errorf("button %q: left, middle or right", args[3])
			}
			button = b
		}
		return func(_ context.Context, c *rep.Client) error { return c.Click(x, y, button, *o.double) }, nil
	case "scroll":
		if len(args) != 3 {
			return nil, usage("scroll CODE DX DY [--at X,Y]")
		}
		dx, err1 := strconv.Atoi(args[1])
		dy, err2 := strconv.Atoi(args[2])
		if err1 != nil || err2 != nil || dx == 0 && dy == 0 || abs(dx) > protocol.MaxWheel || abs(dy) > protocol.MaxWheel {
			return nil, fmt.Errorf("scroll: DX and DY are whole notches (not both 0, at most %d)", protocol.MaxWheel)
		}
		x, y := -1, -1
		if *o.at != "" {
			xs, ys, ok := strings.Cut(*o.at, ",")
			if !ok {
				return nil, errors.New("--at X,Y")
			}
			if x, y, err1 = point(xs, ys); err1 != nil {
				return nil, err1
			}
		}
		return func(ctx context.Context, c *rep.Client) error {
			if x < 0 {
				img, err := c.WaitFrame(ctx, false)
				if err != nil {
					return err
				}
				x, y = img.Rect.Dx()/2, img.Rect.Dy()/2
			}
			return c.Scroll(x, y, dx, dy)
		}, nil
	case "clip":
		switch {
		case len(args) == 2 && args[0] == "get":
			return func(ctx context.Context, c *rep.Client) error {
				text, err := c.Clipboard(ctx, false)
				if err != nil {
					return err
				}
				_, err = io.WriteString(stdout, text)
				return err
			}, nil
		case len(args) == 3 && args[0] == "set":
			if len(args[2]) > protocol.MaxClipboard {
				return nil, fmt.Errorf("clip set: %d bytes is too large: at most 1 MiB goes to the customer's clipboard", len(args[2]))
			}
			return func(ctx context.Context, c *rep.Client) error { return c.SetClipboard(ctx, args[2]) }, nil
		}
		return nil, usage("clip get CODE | clip set CODE TEXT")
	}
	return nil, fmt.Errorf("unknown command %q", cmd)
}

func point(xs, ys string) (int, int, error) {
	x, err1 := strconv.Atoi(xs)
	y, err2 := strconv.Atoi(ys)
	if err1 != nil || err2 != nil || x < 0 || y < 0 || x >= protocol.MaxDimension || y >= protocol.MaxDimension {
		return 0, 0, fmt.Errorf("position %s,%s: whole screen pixels from 0", xs, ys)
	}
	return x, y, nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
