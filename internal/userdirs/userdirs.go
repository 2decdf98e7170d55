// Package userdirs finds the customer's well-known folders (Downloads,
// Desktop, Documents) the way the desktop does: the XDG_<NAME>_DIR
// variable, then the XDG_<NAME>_DIR line of ~/.config/user-dirs.dirs
// (freedesktop.org user directories), then the folder's English name in the
// home folder (what Windows and macOS use). It imports nothing of ours.
package userdirs

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Kind is a well-known folder: the NAME in XDG_NAME_DIR.
type Kind string

// The folders the agent uses.
const (
	Download  Kind = "DOWNLOAD"
	Desktop   Kind = "DESKTOP"
	Documents Kind = "DOCUMENTS"
)

// fallback is each folder's name in the home folder.
var fallback = map[Kind]string{Download: "Downloads", Desktop: "Desktop", Documents: "Documents"}

// Dir returns the folder of kind k. It does not check that it exists.
func Dir(k Kind) (string, error) {
	if d := os.Getenv("XDG_" + string(k) + "_DIR"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("userdirs: no %s folder: %w", fallback[k], err)
	}
	cfg := os.Getenv("XDG_CONFIG_HOME")
	if cfg == "" {
		cfg = filepath.Join(home, ".config")
	}
	if d, ok := fromFile(filepath.Join(cfg, "user-dirs.dirs"), k, home); ok {
		return d, nil
	}
	name := fallback[k]
	if name == "" {
		return "", fmt.Errorf("userdirs: unknown folder kind %q", k)
	}
	return filepath.Join(home, name), nil
}

// fromFile reads k's line from a user-dirs.dirs file. A line naming the home
// folder itself means "no such folder" (xdg-user-dirs writes that for a
// folder the user removed) and is ignored.
func fromFile(file string, k Kind, home string) (string, bool) {
	f, err := os.Open(file)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "XDG_"+string(k)+"_DIR=")
		if !ok {
			continue
		}
		v = strings.Replace(strings.Trim(v, `"`), "$HOME", home, 1)
		if filepath.IsAbs(v) && filepath.Clean(v) != filepath.Clean(home) {
			return v, true
		}
	}
	return "", false
}
