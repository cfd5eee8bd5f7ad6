package layout

import (
	"os/exec"
	"strings"
	"testing"
)

// make demo prints each command it runs: none of them may print as a stray line (a `\` line
// continuation echoes as a line of its own), whatever PROVINCE and SCENARIO are.
func TestMakeDemoPrintsCleanCommands(t *testing.T) {
	root := repoRoot(t)
	for _, args := range [][]string{{}, {"SCENARIO=flash_flood"}, {"PROVINCE=ben-tre", "SCENARIO=saltwater_intrusion"}} {
		// -n prints the commands without running them (no server is started)
		out, err := exec.Command("make", append([]string{"-s", "-n", "-C", root, "demo"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("make -n demo %v: %v\n%s", args, err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		for _, l := range lines {
			if strings.HasSuffix(strings.TrimSpace(l), `\`) {
				t.Errorf("make demo %v prints a stray continuation line: %q", args, l)
			}
		}
		last := lines[len(lines)-1]
		if !strings.Contains(last, "bin/ioc serve --config deploy/config/demo.yaml") || strings.HasPrefix(last, "\t") || strings.HasPrefix(last, " ") {
			t.Errorf("make demo %v ends with %q, want the serve command on a line of its own", args, last)
		}
		for _, a := range args {
			if env := "IOC_SIMULATOR_" + strings.ToUpper(strings.SplitN(a, "=", 2)[0]) + "=" + strings.SplitN(a, "=", 2)[1]; !strings.Contains(last, env) {
				t.Errorf("make demo %v: %q lacks %s", args, last, env)
			}
		}
	}
}
