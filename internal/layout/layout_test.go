package layout

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Doc        string
	Imports    []string
	Deps       []string
	Name       string
}

// list runs go list -json over the module.
func list(t *testing.T, args ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	return pkgs
}

func TestEveryPackageHasADocComment(t *testing.T) {
	for _, p := range list(t, "./...") {
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("package %s has no doc comment", p.ImportPath)
		}
	}
}

func TestImportRules(t *testing.T) {
	ours := func(path string) bool { return path == "assist" || strings.HasPrefix(path, "assist/") }
	forbidden := map[string][]string{
		// The customer binary stays small: no server, no rep client, no web assets.
		"assist/cmd/assist": {"assist/server", "assist/rep"},
		// The server never links agent-side code.
		"assist/cmd/assist-server": {"assist/agent", "assist/capture", "assist/input", "assist/transfer", "assist/reconnect", "assist/installer", "assist/chatwin", "assist/rep"},
		"assist/cmd/assist-rep":    {"assist/agent", "assist/capture", "assist/input", "assist/server", "assist/chatwin", "assist/installer"},
		// The customer's chat window is a leaf the agent wires.
		"assist/chatwin": {"assist/agent", "assist/capture", "assist/input", "assist/transfer", "assist/reconnect", "assist/installer", "assist/server", "assist/rep"},
		// The leaves never import each other or the agent.
		"assist/capture":   {"assist/agent", "assist/input", "assist/transfer", "assist/reconnect", "assist/installer"},
		"assist/input":     {"assist/agent", "assist/capture", "assist/transfer", "assist/reconnect", "assist/installer"},
		"assist/transfer":  {"assist/agent", "assist/capture", "assist/input", "assist/reconnect", "assist/installer"},
		"assist/reconnect": {"assist/agent", "assist/capture", "assist/input", "assist/transfer", "assist/installer"},
		"assist/installer": {"assist/agent", "assist/capture", "assist/input", "assist/transfer", "assist/reconnect"},
		"assist/server":    {"assist/agent", "assist/capture", "assist/input", "assist/transfer", "assist/reconnect", "assist/installer", "assist/chatwin", "assist/rep"},
	}
	for _, p := range list(t, "./...") {
		bad := forbidden[p.ImportPath]
		for _, d := range p.Deps {
			for _, b := range bad {
				if d == b || strings.HasPrefix(d, b+"/") {
					t.Errorf("%s depends on %s", p.ImportPath, d)
				}
			}
		}
		// protocol imports nothing of ours.
		if p.ImportPath == "assist/protocol" {
			for _, d := range p.Deps {
				if ours(d) {
					t.Errorf("protocol depends on %s", d)
				}
			}
		}
	}
}
