package transfer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"assist/internal/userdirs"
)

// MaxNameBytes bounds a received file's name (bytes of UTF-8), leaving room
// under the usual 255-byte limit for a " (9999)" suffix.
const MaxNameBytes = 200

// SafeName reduces a name received from the other side to a safe base name
// for this machine: the last path element (either separator), no control,
// bidirectional-override or Windows-forbidden characters, no leading dots,
// no trailing dots or spaces, not a Windows device name, at most
// MaxNameBytes with the extension kept. A name with nothing left becomes
// "file".
func SafeName(name string) string {
	name = strings.ToValidUTF8(name, "_")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f':
			b.WriteRune(' ')
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			// control characters: dropped
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
			// bidirectional controls ("invoice\u202Efdp.exe"): dropped
		case strings.ContainsRune(`<>:"|?*`, r):
			b.WriteRune('_')
		case unicode.IsSpace(r):
			b.WriteRune(' ')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.TrimSpace(b.String())
	name = strings.TrimLeft(name, ".")
	name = strings.TrimRight(name, ". ")
	name = strings.TrimSpace(name)
	if name == "" {
		return "file"
	}
	if reservedName(name) {
		name = "_" + name
	}
	return truncateName(name, MaxNameBytes)
}

// reservedName reports Windows device names, which stay devices whatever
// the extension ("nul.txt", "COM1.tar.gz").
func reservedName(name string) bool {
	base, _, _ := strings.Cut(name, ".")
	base = strings.ToUpper(strings.TrimRight(base, " "))
	switch base {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(base) >= 4 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) {
		d := base[3:]
		return d == "¹" || d == "²" || d == "³" || (len(d) == 1 && d[0] >= '0' && d[0] <= '9')
	}
	return false
}

// truncateName cuts name to max bytes at a rune boundary, keeping a short
// extension.
func truncateName(name string, max int) string {
	if len(name) <= max {
		return name
	}
	ext := filepath.Ext(name)
	if len(ext) > 16 || len(ext) == len(name) {
		ext = ""
	}
	stem := name[:len(name)-len(ext)]
	cut := max - len(ext)
	for cut > 0 && !utf8.RuneStart(stem[cut]) {
		cut--
	}
	return strings.TrimRight(stem[:cut], ". ") + ext
}

// numbered returns the n-th alternative of name: "report (n).pdf".
func numbered(name string, n int) string {
	if n == 0 {
		return name
	}
	ext := filepath.Ext(name)
	if ext == name || len(ext) > 16 {
		ext = ""
	}
	// "archive.tar.gz" -> "archive (1).tar.gz"
	stem := strings.TrimSuffix(name, ext)
	if e2 := filepath.Ext(stem); ext != "" && (e2 == ".tar") {
		stem, ext = strings.TrimSuffix(stem, e2), e2+ext
	}
	return fmt.Sprintf("%s (%d)%s", stem, n, ext)
}

// place gives the verified temporary file tmp its final name in dir:
// name, or "name (1)", "name (2)"... so that no existing file is ever
// overwritten. With exact set, only name is tried. It returns the path.
func place(fsys FS, tmp, dir, name string, exact bool) (string, error) {
	for n := 0; n < 10000; n++ {
		dst := filepath.Join(dir, numbered(name, n))
		err := fsys.Link(tmp, dst)
		if err == nil {
			if err := fsys.Remove(tmp); err != nil {
				return dst, fmt.Errorf("transfer: remove %s: %w", tmp, err)
			}
			return dst, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			// No hard links here (FAT, some network shares): check, then rename.
			if _, serr := fsys.Stat(dst); serr == nil {
				if exact {
					return "", fmt.Errorf("transfer: %s exists; not overwriting it", dst)
				}
				continue
			}
			if rerr := fsys.Rename(tmp, dst); rerr != nil {
				return "", fmt.Errorf("transfer: save as %s: %w (link: %v)", dst, rerr, err)
			}
			return dst, nil
		}
		if exact {
			return "", fmt.Errorf("transfer: %s exists; not overwriting it", dst)
		}
	}
	return "", fmt.Errorf("transfer: no free name for %s in %s", name, dir)
}

// DownloadsDir is where received files land by default: $XDG_DOWNLOAD_DIR,
// the XDG_DOWNLOAD_DIR line of ~/.config/user-dirs.dirs, or ~/Downloads.
func DownloadsDir() (string, error) {
	d, err := userdirs.Dir(userdirs.Download)
	if err != nil {
		return "", fmt.Errorf("transfer: %w", err)
	}
	return d, nil
}

// StateDir is where the transfer journal lives:
// $XDG_STATE_HOME/assist/transfers, or ~/.local/state/assist/transfers.
func StateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "assist", "transfers"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("transfer: no state folder: %w", err)
	}
	return filepath.Join(home, ".local", "state", "assist", "transfers"), nil
}
