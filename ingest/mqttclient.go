package ingest

import (
	"errors"
	"fmt"
	"net/url"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

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
	for _, b := range mc.Brokers() {
		if _, err := url.Parse(b); err != nil {
			return nil, nil, fmt.Errorf("mqtt.broker: %w", err)
		}
		opts.AddBroker(b)
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
