package layout

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// maxTracked is the largest file git may track, pictures apart: anything larger is a build
// output or data that belongs in .gitignore.
const maxTracked = 1 << 20

// TestNoBuildOutputsTracked fails on a tracked executable (ELF), a tracked file over 1 MiB that
// is not a picture, or tracked runtime data (.data/, spools).
func TestNoBuildOutputsTracked(t *testing.T) {
	root := repoRoot(t)
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v (the test reads the repository's tracked files)", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		if strings.HasPrefix(name, ".data/") || strings.Contains(name, "/spool/") {
			t.Errorf("%s: runtime data is tracked; it belongs under the ignored .data/", name)
			continue
		}
		path := filepath.Join(root, name)
		fi, err := os.Lstat(path)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the work tree, or a link
		}
		switch ext := strings.ToLower(filepath.Ext(name)); {
		case fi.Size() > maxTracked && ext != ".png" && ext != ".jpg" && ext != ".jpeg" && ext != ".webp":
			t.Errorf("%s: %d bytes tracked; a build output or data set belongs in .gitignore", name, fi.Size())
		case isELF(t, path):
			t.Errorf("%s: an executable is tracked; build outputs belong in .gitignore (make build writes bin/)", name)
		}
	}
}

func isELF(t *testing.T, path string) bool {
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := f.Read(head)
	return bytes.Equal(head[:n], []byte("\x7fELF"))
}

// repoRoot is the repository's top folder.
func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("git rev-parse: %v (the test runs inside the repository's git work tree)", err)
	}
	return strings.TrimSpace(string(out))
}
