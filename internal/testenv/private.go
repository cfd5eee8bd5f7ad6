package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Private is a ClickHouse and a Mosquitto of one test's own, started from Debian's binaries by
// deploy/local/services.sh on free loopback ports with their data in the test's temporary
// folder, so that the test may stop and start them (fault tests) without disturbing the
// servers other tests share. They are stopped when the test ends.
type Private struct {
	dir                       string
	chPort, chHTTP, chSecure  int
	mqttPort, mqttSecure      int
	script                    string
	ClickHouseAddr, BrokerURL string
}

// StartPrivate starts a private ClickHouse and Mosquitto, failing the test with what to
// install when Debian's packages are missing.
func StartPrivate(t *testing.T) *Private {
	t.Helper()
	Integration(t)
	for _, bin := range []string{"clickhouse-server", "clickhouse-client", "mosquitto", "mosquitto_pub"} {
		if _, err := exec.LookPath(bin); err != nil {
			if _, err2 := os.Stat("/usr/sbin/" + bin); err2 != nil {
				t.Fatalf("fault tests start servers of their own from Debian's packages, and %s is missing: "+
					"run `make test` (deploy/local/services.sh installs clickhouse-server, clickhouse-client, mosquitto and mosquitto-clients)", bin)
			}
		}
	}
	_, file, _, _ := runtime.Caller(0)
	p := &Private{
		dir:    t.TempDir(),
		script: filepath.Join(filepath.Dir(file), "..", "..", "deploy", "local", "services.sh"),
	}
	p.chPort, p.chHTTP, p.chSecure, p.mqttPort, p.mqttSecure = FreePort(t), FreePort(t), FreePort(t), FreePort(t), FreePort(t)
	p.ClickHouseAddr = fmt.Sprintf("127.0.0.1:%d", p.chPort)
	p.BrokerURL = fmt.Sprintf("tcp://127.0.0.1:%d", p.mqttPort)
	p.Start(t, "clickhouse")
	p.Start(t, "mosquitto")
	t.Cleanup(func() {
		p.run(t, "stop")
	})
	return p
}

// Start starts one server: clickhouse or mosquitto.
func (p *Private) Start(t *testing.T, which string) {
	t.Helper()
	start := time.Now()
	p.run(t, "start-"+which)
	t.Logf("%s started in %s", which, time.Since(start).Round(time.Millisecond))
}

// Stop stops one server gracefully: clickhouse or mosquitto (which saves its sessions).
func (p *Private) Stop(t *testing.T, which string) {
	t.Helper()
	p.run(t, "stop-"+which)
}

func (p *Private) run(t *testing.T, cmd string) {
	t.Helper()
	c := exec.Command("bash", p.script, cmd)
	c.Env = append(os.Environ(),
		"IOC_LOCAL_DATA="+p.dir,
		"IOC_LOCAL_CLICKHOUSE_PORT="+strconv.Itoa(p.chPort),
		"IOC_LOCAL_CLICKHOUSE_HTTP_PORT="+strconv.Itoa(p.chHTTP),
		"IOC_LOCAL_CLICKHOUSE_SECURE_PORT="+strconv.Itoa(p.chSecure),
		"IOC_LOCAL_MQTT_PORT="+strconv.Itoa(p.mqttPort),
		"IOC_LOCAL_MQTT_SECURE_PORT="+strconv.Itoa(p.mqttSecure),
	)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("services.sh %s: %v\n%s", cmd, err, out)
	}
}

// given holds the ports FreePort has answered in this process.
var given = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePort returns a loopback TCP port that nothing listens on now and that it has not
// returned before in this process: the kernel may hand out a port just closed again, and two
// servers given one port (a private ClickHouse's native and HTTP ports) fail, or hang a client
// that speaks the wrong protocol to it.
func FreePort(t testing.TB) int {
	t.Helper()
	given.Lock()
	defer given.Unlock()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !given.ports[port] {
			given.ports[port] = true
			return port
		}
	}
	t.Fatal("no free port that was not given before")
	return 0
}

// FreePortBlock returns the first of n consecutive loopback ports that are free now (for
// servers that take consecutive ports, such as a simulated camera fleet).
func FreePortBlock(t testing.TB, n int) int {
	t.Helper()
	for range 100 {
		base := 20000 + rand.IntN(40000)
		var held []net.Listener
		for i := range n {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				break
			}
			held = append(held, ln)
		}
		for _, ln := range held {
			ln.Close()
		}
		if len(held) == n {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports found", n)
	return 0
}
