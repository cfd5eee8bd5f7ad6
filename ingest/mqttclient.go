package ingest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"golang.org/x/net/proxy"

	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/tlsconf"
)

// ClientOptions are the options every MQTT client of ioc starts from: the broker, clientID,
// the credentials, and for an encrypted broker (ssl://, tls://, mqtts://, wss://) the TLS files
// of mc.TLS, loaded and checked now. The Files come back for reloading (nil without TLS).
func ClientOptions(mc config.MQTT, clientID string) (*mqtt.ClientOptions, *tlsconf.Files, error) {
	opts := mqtt.NewClientOptions().
		SetClientID(clientID).
		SetUsername(mc.Username).
		SetPassword(mc.Password.Value())
	buffered := true
	for _, b := range mc.Brokers() {
		u, err := url.Parse(b)
		if err != nil {
			return nil, nil, fmt.Errorf("mqtt.broker: %w", err)
		}
		opts.AddBroker(b)
		buffered = buffered && (u.Scheme == "tcp" || u.Scheme == "mqtt")
	}
	if buffered {
		opts.SetCustomOpenConnectionFn(openBuffered)
	}
	if !mc.Encrypted() {
		return opts, nil, nil
	}
	files, err := tlsconf.Load("mqtt.tls", mc.TLS)
	if err != nil {
		return nil, nil, err
	}
	return opts.SetTLSConfig(files.Client()), files, nil
}

// ConnectProblem says in words why a connection to the broker failed: refused credentials and
// refused identities are not the broker being away, and the log must say which.
func ConnectProblem(err error) string {
	switch {
	case errors.Is(err, packets.ErrorRefusedNotAuthorised), errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword):
		return "the broker refused ioc's credentials (mqtt.username, mqtt.password, or the client certificate in mqtt.tls)"
	case errors.Is(err, packets.ErrorRefusedIDRejected):
		return "the broker refused mqtt.client_id"
	}
	return "mqtt broker unreachable; retrying (locally: deploy/local/services.sh start)"
}

// openBuffered opens an unencrypted broker connection (tcp://, mqtt://) as paho does, through
// a proxy named in the environment (all_proxy) too, and buffers its reads: paho reads a
// packet's fixed header, length and body in separate calls, three system calls a message on a
// bare socket, where the next packets now mostly come from the buffer. (TLS and WebSocket
// connections buffer on their own and keep paho's dialing.)
func openBuffered(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
	if uri.Scheme != "tcp" && uri.Scheme != "mqtt" { // ClientOptions sets it only for these
		return nil, fmt.Errorf("mqtt broker %s: not a tcp:// or mqtt:// address", uri.Redacted())
	}
	dialer := o.Dialer
	if dialer == nil {
		dialer = &net.Dialer{Timeout: 30 * time.Second}
	}
	conn, err := proxy.FromEnvironmentUsing(dialer).Dial("tcp", uri.Host)
	if err != nil {
		return nil, err
	}
	return &bufferedConn{Conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}, nil
}

// bufferedConn is a connection whose reads come through a buffer.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
