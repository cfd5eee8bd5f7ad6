package testenv

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// SeaweedFSVersion is the pseudo-version deploy/local/seaweedfs.sh builds.
const SeaweedFSVersion = "v0.0.0-20261109003541-7506e5f91cd6"

// SeaweedFS is a SeaweedFS server of one test's own (master, volume, filer and S3 gateway) on
// free loopback ports, started from the binary deploy/local/seaweedfs.sh builds from
// SeaweedFS's Go module; stopped when the test ends.
type SeaweedFS struct {
	// S3 is the S3 gateway's base URL; AccessKey and SecretKey its one identity's credentials.
	S3, AccessKey, SecretKey string
	Log                      *LogBuffer
}

// SeaweedFSBinary is the SeaweedFS the tests run: IOC_TEST_SEAWEEDFS, or the one
// deploy/local/seaweedfs.sh built. A missing binary fails the test with how to build it.
func SeaweedFSBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("IOC_TEST_SEAWEEDFS"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	bin := filepath.Join(filepath.Dir(file), "..", "..", ".data", "tools", "seaweedfs-"+SeaweedFSVersion, "weed")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no SeaweedFS at %s: run the tests with `make test` (it builds it), or build it with `deploy/local/seaweedfs.sh build`, or set IOC_TEST_SEAWEEDFS", bin)
	}
	return bin
}

// StartSeaweedFS starts a SeaweedFS server with its S3 gateway and waits until the gateway
// answers (a bucket may take a few more seconds: the filer joins after it).
func StartSeaweedFS(t testing.TB) *SeaweedFS {
	t.Helper()
	Integration(t)
	bin := SeaweedFSBinary(t)
	dir := t.TempDir()
	s := &SeaweedFS{AccessKey: "ioc-test", SecretKey: "ioc-test-" + fmt.Sprint(time.Now().UnixNano()), Log: &LogBuffer{}}
	conf := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`{"identities": [{"name": "ioc", "credentials": [{"accessKey": %q, "secretKey": %q}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}`, s.AccessKey, s.SecretKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o750); err != nil {
		t.Fatal(err)
	}
	p := func() string { return fmt.Sprint(FreePort(t)) }
	s3 := p()
	s.S3 = "http://127.0.0.1:" + s3
	args := []string{"server", "-dir=" + filepath.Join(dir, "data"), "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port=" + p(), "-master.port.grpc=" + p(), "-volume.port=" + p(), "-volume.port.grpc=" + p(), "-volume.max=4",
		"-master.volumeSizeLimitMB=64", "-filer", "-filer.port=" + p(), "-filer.port.grpc=" + p(), "-s3", "-s3.port=" + s3,
		"-s3.port.grpc=" + p(), "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.config=" + conf, "-metricsPort=0"}
	startServer(t, "SeaweedFS", "SeaweedFS's S3 gateway at "+s.S3, bin, args, dir, s.Log, 30*time.Second, func() bool {
		resp, err := http.Get(s.S3 + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return s
}
