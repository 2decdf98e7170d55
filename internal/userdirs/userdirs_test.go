package userdirs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDir(t *testing.T) {
	for _, tc := range []struct {
		name, env, file string
		kind            Kind
		want            string // relative to home unless absolute
	}{
		{name: "the variable wins", kind: Download, env: "/data/dl", file: `XDG_DOWNLOAD_DIR="$HOME/Other"`, want: "/data/dl"},
		{name: "user-dirs.dirs", kind: Desktop, file: "# comment\nXDG_DESKTOP_DIR=\"$HOME/Schreibtisch\"\n", want: "Schreibtisch"},
		{name: "an absolute line", kind: Documents, file: `XDG_DOCUMENTS_DIR="/srv/docs"`, want: "/srv/docs"},
		{name: "the home folder itself is no folder", kind: Desktop, file: `XDG_DESKTOP_DIR="$HOME/"`, want: "Desktop"},
		{name: "no file", kind: Documents, want: "Documents"},
		{name: "another folder's line", kind: Download, file: `XDG_DESKTOP_DIR="$HOME/D"`, want: "Downloads"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			t.Setenv("HOME", home)
			t.Setenv("XDG_CONFIG_HOME", "")
			for _, k := range []Kind{Download, Desktop, Documents} {
				t.Setenv("XDG_"+string(k)+"_DIR", "")
			}
			if tc.env != "" {
				t.Setenv("XDG_"+string(tc.kind)+"_DIR", tc.env)
			}
			if tc.file != "" {
				os.MkdirAll(filepath.Join(home, ".config"), 0o755)
				if err := os.WriteFile(filepath.Join(home, ".config", "user-dirs.dirs"), []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want := tc.want
			if !filepath.IsAbs(want) {
				want = filepath.Join(home, want)
			}
			got, err := Dir(tc.kind)
			if err != nil || got != want {
				t.Fatalf("Dir(%s) = %q, %v; want %q", tc.kind, got, err, want)
			}
		})
	}
}
