// Package testenv gives integration tests their real servers: a fresh ClickHouse database per
// test and the address of an MQTT broker. It takes the servers named by IOC_TEST_CLICKHOUSE_ADDR
// and IOC_TEST_MQTT_BROKER (which `make test` sets after starting Debian's clickhouse-server and
// mosquitto on loopback); where a variable is unset and a Docker engine answers, it starts the
// server with testcontainers-go; where neither, the test fails and says how to start one.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/testcontainers/testcontainers-go"
	tcclickhouse "github.com/testcontainers/testcontainers-go/modules/clickhouse"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/haidang-ioc/ioc/internal/chconn"
	"github.com/haidang-ioc/ioc/internal/config"
)

// Environment variables that name the test servers.
const (
	EnvClickHouse = "IOC_TEST_CLICKHOUSE_ADDR"
	EnvBroker     = "IOC_TEST_MQTT_BROKER"
	// EnvClickHouseSecure and EnvClickHouseCA name the test ClickHouse's secure native port
	// and the CA file that signed its certificate (deploy/local/services.sh makes both).
	EnvClickHouseSecure = "IOC_TEST_CLICKHOUSE_SECURE_ADDR"
	EnvClickHouseCA     = "IOC_TEST_CLICKHOUSE_CA"
)

// Images started where Docker runs and no server is named: current LTS releases.
const (
	ClickHouseImage = "clickhouse/clickhouse-server:26.8"
	MosquittoImage  = "eclipse-mosquitto:2.0"
)

const howToStart = "run the tests with `make test` (it starts Debian's clickhouse-server and mosquitto on " +
	"loopback), or start them with `deploy/local/services.sh start` and set " + EnvClickHouse +
	"=127.0.0.1:9000 and " + EnvBroker + "=tcp://127.0.0.1:1883, or run a Docker engine"

var (
	chOnce sync.Once
	chAddr string
	chErr  error

	brokerOnce sync.Once
	brokerURL  string
	brokerErr  error
)

// Integration marks a test that needs real servers or programs outside Go (ClickHouse,
// Mosquitto, Chromium, GStreamer, an SMTP sink): `go test -short` skips it, so that the pure
// tests run in seconds on any machine; `make test` runs it, and there a missing server fails
// it with how to start one.
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs real servers; `make test` runs it (skipped with -short)")
	}
}

// ClickHouseAddr returns host:port of the test ClickHouse, failing the test when there is none.
func ClickHouseAddr(t testing.TB) string {
	t.Helper()
	Integration(t)
	chOnce.Do(func() {
		if chAddr = os.Getenv(EnvClickHouse); chAddr != "" {
			return
		}
		chAddr, chErr = startClickHouseContainer()
	})
	if chErr != nil {
		t.Fatalf("no ClickHouse for this test: %v; %s", chErr, howToStart)
	}
	return chAddr
}

// Broker returns the URL of the test MQTT broker, failing the test when there is none.
func Broker(t testing.TB) string {
	t.Helper()
	Integration(t)
	brokerOnce.Do(func() {
		if brokerURL = os.Getenv(EnvBroker); brokerURL != "" {
			return
		}
		brokerURL, brokerErr = startMosquittoContainer()
	})
	if brokerErr != nil {
		t.Fatalf("no MQTT broker for this test: %v; %s", brokerErr, howToStart)
	}
	return brokerURL
}

// ClickHouseConfig returns the configuration of a fresh, empty database on the test ClickHouse,
// named after the test and dropped when it ends (kept when IOC_TEST_KEEP_DB=1).
func ClickHouseConfig(t testing.TB) config.ClickHouse {
	t.Helper()
	addr := ClickHouseAddr(t)
	cfg := config.Default().ClickHouse
	cfg.Addr = addr
	cfg.Database = DatabaseName(t.Name())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("ClickHouse at %s: %v; %s", addr, err, howToStart)
	}
	defer admin.Close()
	if err := admin.Exec(ctx, "CREATE DATABASE "+cfg.Database); err != nil {
		t.Fatalf("ClickHouse at %s: create database %s: %v; %s", addr, cfg.Database, err, howToStart)
	}
	dropWhenDone(t, []string{addr}, "DROP DATABASE IF EXISTS "+cfg.Database, 30*time.Second)
	return cfg
}

// dropWhenDone runs drop (a DROP DATABASE) on the first of addrs that answers when the test
// ends, for at most within, unless IOC_TEST_KEEP_DB=1 keeps the database.
func dropWhenDone(t testing.TB, addrs []string, drop string, within time.Duration) {
	t.Cleanup(func() {
		if os.Getenv("IOC_TEST_KEEP_DB") == "1" {
			t.Logf("kept: not run: %s", drop)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		c, err := clickhouse.Open(&clickhouse.Options{Addr: addrs})
		if err == nil {
			err = c.Exec(ctx, drop)
			c.Close()
		}
		if err != nil {
			t.Logf("%s: %v", drop, err)
		}
	})
}

// Secure turns cfg (of ClickHouseConfig) to the test ClickHouse's secure native port, checked
// against its CA, failing the test when they are not named.
func Secure(t testing.TB, cfg config.ClickHouse) config.ClickHouse {
	t.Helper()
	addr, ca := os.Getenv(EnvClickHouseSecure), os.Getenv(EnvClickHouseCA)
	if addr == "" || ca == "" {
		t.Fatalf("no secure ClickHouse port for this test: set %s and %s (make test does: deploy/local/services.sh "+
			"serves TLS on 127.0.0.1:9440 with a certificate of its CA in .data/local/tls/ca.crt; a ClickHouse it "+
			"started before it did so needs `deploy/local/services.sh stop-clickhouse` first)", EnvClickHouseSecure, EnvClickHouseCA)
	}
	cfg.Addr, cfg.Secure, cfg.TLS = addr, true, config.TLS{CAFile: ca}
	return cfg
}

// Conn opens a connection to the database of cfg, closed when the test ends.
func Conn(t testing.TB, cfg config.ClickHouse) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: []string{cfg.Addr},
		Auth: clickhouse.Auth{Database: cfg.Database, Username: cfg.Username, Password: cfg.Password.Value()},
	})
	if err != nil {
		t.Fatalf("ClickHouse at %s: %v", cfg.Addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return chconn.Retrying(conn) // as analytics.Connect's
}

var notIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// DatabaseName makes a unique database name from a test name.
func DatabaseName(testName string) string {
	name := notIdent.ReplaceAllString(strings.ToLower(testName), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "test_" + strings.Trim(name, "_") + "_" + hex.EncodeToString(b[:])
}

// dockerAnswers tells whether a Docker engine is there to start containers in.
func dockerAnswers(ctx context.Context) error {
	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return fmt.Errorf("%s and %s are unset, and no Docker engine: %w", EnvClickHouse, EnvBroker, err)
	}
	if err := provider.Health(ctx); err != nil {
		return fmt.Errorf("%s and %s are unset, and no Docker engine answers: %w", EnvClickHouse, EnvBroker, err)
	}
	return nil
}

func startClickHouseContainer() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := dockerAnswers(ctx); err != nil {
		return "", err
	}
	// The container lives as long as the test binary; testcontainers' reaper removes it.
	c, err := tcclickhouse.Run(ctx, ClickHouseImage, tcclickhouse.WithUsername("default"), tcclickhouse.WithPassword(""))
	if err != nil {
		return "", fmt.Errorf("start %s: %w", ClickHouseImage, err)
	}
	return c.ConnectionHost(ctx)
}

func startMosquittoContainer() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := dockerAnswers(ctx); err != nil {
		return "", err
	}
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        MosquittoImage,
			ExposedPorts: []string{"1883/tcp"},
			// The image ships this file: listener 1883, anonymous clients allowed.
			Cmd:        []string{"mosquitto", "-c", "/mosquitto-no-auth.conf"},
			WaitingFor: wait.ForListeningPort("1883/tcp"),
		},
		Started: true,
	})
	if err != nil {
		return "", fmt.Errorf("start %s: %w", MosquittoImage, err)
	}
	ep, err := c.PortEndpoint(ctx, "1883/tcp", "tcp")
	if err != nil {
		return "", err
	}
	return ep, nil
}

// BrokerOptions are MQTT client options with broker's nodes (a comma-separated list, as
// mqtt.broker takes it).
func BrokerOptions(broker string) *mqtt.ClientOptions {
	opts := mqtt.NewClientOptions()
	for _, b := range strings.Split(broker, ",") {
		opts.AddBroker(b)
	}
	return opts
}

// ForgetSession ends the broker's persistent session of clientID (a connection with a clean
// session does that), so tests leave no queued messages behind.
func ForgetSession(t testing.TB, broker, clientID string) {
	t.Helper()
	c := mqtt.NewClient(BrokerOptions(broker).SetClientID(clientID).SetCleanSession(true))
	tok := c.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Logf("forget MQTT session %s: %v", clientID, tok.Error())
		return
	}
	c.Disconnect(0)
}
