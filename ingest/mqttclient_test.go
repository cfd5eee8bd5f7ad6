package ingest

import (
	"net"
	"net/url"
	"testing"

	"github.com/haidang-ioc/ioc/internal/config"
)

// A plain broker connection is opened by ioc with buffered reads; an encrypted or WebSocket
// one keeps paho's own dialing.
func TestClientOptionsBuffersPlainBrokers(t *testing.T) {
	for broker, want := range map[string]bool{
		"tcp://127.0.0.1:1883": true, "mqtt://127.0.0.1:1883": true, "ws://127.0.0.1:8080": false,
	} {
		opts, _, err := ClientOptions(config.MQTT{Broker: broker}, "t")
		if err != nil {
			t.Fatal(err)
		}
		if got := opts.CustomOpenConnectionFn != nil; got != want {
			t.Errorf("%s: buffered %t, want %t", broker, got, want)
		}
	}
	// what it opens reads through its buffer, from a real socket
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			_, _ = c.Write([]byte{0x20, 0x02, 0x00, 0x00}) // a CONNACK
			_ = c.Close()
		}
	}()
	opts, _, _ := ClientOptions(config.MQTT{Broker: "tcp://" + l.Addr().String()}, "t")
	u, _ := url.Parse("tcp://" + l.Addr().String())
	conn, err := opts.CustomOpenConnectionFn(u, *opts)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, ok := conn.(*bufferedConn); !ok {
		t.Fatalf("connection %T, want a bufferedConn", conn)
	}
	b := make([]byte, 1)
	for i, want := range []byte{0x20, 0x02, 0x00, 0x00} {
		if _, err := conn.Read(b); err != nil || b[0] != want {
			t.Fatalf("byte %d: %x (%v), want %x", i, b[0], err, want)
		}
	}
}
