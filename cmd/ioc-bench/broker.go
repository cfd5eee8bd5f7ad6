package main

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// storeWarnBytes is the size of the broker's message store above which the latency
// benchmarks warn: Mosquitto writes its whole store at every autosave and serves nobody
// meanwhile (137 MB stalled every client for 0.6 s here), which a run would measure.
const storeWarnBytes = 16 << 20

// brokerStore describes the broker's message store from Mosquitto's retained
// $SYS/broker/store/messages/{count,bytes}, with a warning when it is large enough to stall
// the broker at its autosaves; other brokers, which do not publish them, are said to be unknown.
func brokerStore(broker string) string {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("bench-sys-" + randomID()).SetCleanSession(true))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Sprintf("broker store: unknown (connect: %v)", tok.Error())
	}
	defer c.Disconnect(0)
	var mu sync.Mutex
	got := map[string]float64{}
	tok := c.Subscribe("$SYS/broker/store/messages/+", 0, func(_ mqtt.Client, m mqtt.Message) {
		if v, err := strconv.ParseFloat(string(m.Payload()), 64); err == nil {
			mu.Lock()
			got[m.Topic()] = v
			mu.Unlock()
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Sprintf("broker store: unknown (subscribe: %v)", tok.Error())
	}
	// retained, but not always there yet: Mosquitto publishes them every sys_interval (10 s)
	for deadline := time.Now().Add(12 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n, okN := got["$SYS/broker/store/messages/count"]
		b, okB := got["$SYS/broker/store/messages/bytes"]
		mu.Unlock()
		if okN && okB {
			s := fmt.Sprintf("broker store: %.0f messages, %.1f MiB", n, b/(1<<20))
			if b > storeWarnBytes {
				s += " — WARNING: Mosquitto writes its whole store at every autosave and serves nobody meanwhile; " +
					"expect stalls in this run's latencies (docs/OPERATIONS.md, Mosquitto's persistence)"
			}
			return s
		}
	}
	return "broker store: unknown (no $SYS/broker/store/messages from this broker within 12 s)"
}
