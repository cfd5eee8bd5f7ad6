package layout

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/haidang-ioc/ioc/"

// layers says which of the module's top-level parts each part may import (its own packages
// always): producers (ingest, streams) under consumers (analytics, alerts) under the dashboard
// under cmd; internal/ helpers under all of them, importing no domain package; the simulators
// (sim/) beside the producers, imported by cmd alone.
var layers = map[string][]string{
	"internal":  {"internal"},
	"streams":   {"internal"},
	"ingest":    {"streams", "internal"},
	"analytics": {"ingest", "streams", "internal"},
	"alerts":    {"analytics", "ingest", "streams", "internal"},
	"dashboard": {"alerts", "analytics", "ingest", "streams", "internal"},
	"cmd":       {"sim", "dashboard", "alerts", "analytics", "ingest", "streams", "internal"},
	// the simulators (demo and benchmark code) speak the producers' formats; only cmd runs them
	"sim": {"ingest", "streams", "internal"},
	// deployment files; deploy/k8s holds the manifests' test, which imports nothing to build
	"deploy": {},
}

// TestLayering walks every package's imports (tests apart) and fails on one that climbs a
// layer or reaches into the simulators from a production package.
func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, repoRoot(t)+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v (the test needs the go command)", err)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, ok := strings.CutPrefix(fields[0], module)
		if !ok {
			continue
		}
		top := strings.SplitN(pkg, "/", 2)[0]
		allowed, known := layers[top]
		if !known {
			t.Errorf("%s: a top-level folder the layering does not know (add it to layers)", pkg)
			continue
		}
		seen++
		for _, imp := range fields[1:] {
			dep, ok := strings.CutPrefix(imp, module)
			if !ok {
				continue
			}
			depTop := strings.SplitN(dep, "/", 2)[0]
			if depTop != top && !slices.Contains(allowed, depTop) {
				t.Errorf("%s imports %s: %s may import only %v", pkg, dep, top, allowed)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("go list gave %d of the module's packages; want them all", seen)
	}
}

// sqlOwners may hold SQL: the package that owns the schema, and the benchmarks' own tables.
var sqlOwners = []string{"analytics/", "cmd/ioc-bench/"}

// TestSQLLivesInAnalytics fails on SQL text in a production file outside analytics: the package
// that owns the schema owns every statement on it, and the others call its typed functions.
func TestSQLLivesInAnalytics(t *testing.T) {
	root := repoRoot(t)
	out, err := exec.Command("git", "-C", root, "ls-files", "*.go").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	sqlText := regexp.MustCompile(`(?i)"[^"\n]*\b(SELECT\s[^"\n]*\bFROM|INSERT\s+INTO|CREATE\s+TABLE|ALTER\s+TABLE|DROP\s+TABLE)\b`)
	files := 0
	for _, name := range strings.Fields(string(out)) {
		if strings.HasSuffix(name, "_test.go") || slices.ContainsFunc(sqlOwners, func(o string) bool { return strings.HasPrefix(name, o) }) {
			continue
		}
		files++
		body, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(body), "\n") {
			if sqlText.MatchString(line) || strings.Contains(line, "`SELECT ") || strings.Contains(line, "`INSERT INTO") {
				t.Errorf("%s:%d: SQL outside analytics: %s", name, i+1, strings.TrimSpace(line))
			}
		}
	}
	if files < 50 {
		t.Fatalf("read %d Go files; want the whole repository", files)
	}
}
