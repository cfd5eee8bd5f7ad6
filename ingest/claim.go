package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// ClaimRoot is the topic root under which each ioc process claims its MQTT client id: a
// retained message on ClaimRoot/<client id> says which process holds it. Two processes with one
// client id would take the broker's session from each other at every reconnection, each losing
// the other's unacknowledged messages; the claim lets the second refuse to start instead.
const ClaimRoot = "ioc-clients"

// ErrClientIDInUse is the subscriber's answer when another running process holds its client id.
var ErrClientIDInUse = errors.New("mqtt.client_id is in use by another running ioc process")

// claim is the retained message of a client id's holder.
type claim struct {
	Host string `json:"host"`
	PID  int    `json:"pid"`
	// Started names the holder's run (host, pid and start time): a restarted process is
	// another run.
	Started time.Time `json:"started"`
	// At is when the holder last renewed the claim (every keepalive/2 while connected).
	At time.Time `json:"at"`
}

func (c claim) sameRun(o claim) bool {
	return c.Host == o.Host && c.PID == o.PID && c.Started.Equal(o.Started)
}

// claimTopic is where client id's claim is kept.
func claimTopic(clientID string) string { return ClaimRoot + "/" + clientID }

// stale reports whether a claim other than mine can be taken over without waiting: its holder
// ran on this machine and is gone (its pid is dead, or is mine: a container restarted, pid 1
// again), or it has not been renewed for two keepalives.
func (c claim) stale(mine claim, keepalive time.Duration, now time.Time) bool {
	if c.Host == mine.Host && (c.PID == mine.PID || !processAlive(c.PID)) {
		return true
	}
	return now.Sub(c.At) > 2*keepalive
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// checkClaim reads the claim of the subscriber's client id through a connection of its own
// (a random client id: it takes no session) before the subscriber connects. It returns nil when
// the id is free or its claim is stale, and ErrClientIDInUse, naming the holder, when another
// running process renews it. A holder that died elsewhere clears its claim through its will
// (after 1.5 keepalives) or stops renewing it; the check waits up to two keepalives for that.
func (s *Subscriber) checkClaim(ctx context.Context) error {
	opts, _, err := ClientOptions(s.cfg, fmt.Sprintf("%s-claim-%d", s.cfg.ClientID, time.Now().UnixNano()))
	if err != nil {
		return err
	}
	got := make(chan claim, 16)
	opts.SetCleanSession(true).SetConnectTimeout(s.cfg.ConnectTimeout).SetConnectRetry(false).SetAutoReconnect(false)
	probe := mqtt.NewClient(opts)
	tok := probe.Connect()
	if !tok.WaitTimeout(s.cfg.ConnectTimeout) || tok.Error() != nil {
		// The broker is away: the subscriber's own retries say so; the claim is checked at
		// its first connection by the renewal below, which logs a conflict.
		s.log.Warn("mqtt client id claim not checked: broker unreachable", "err", tok.Error())
		return nil
	}
	defer probe.Disconnect(0)
	sub := probe.Subscribe(claimTopic(s.cfg.ClientID), 1, func(_ mqtt.Client, m mqtt.Message) {
		var c claim
		if len(m.Payload()) > 0 && json.Unmarshal(m.Payload(), &c) == nil {
			got <- c
		} else {
			got <- claim{} // cleared
		}
	})
	if !sub.WaitTimeout(s.cfg.ConnectTimeout) || sub.Error() != nil {
		return fmt.Errorf("mqtt: read the claim of client id %q on %s (ioc's account needs %s/#): %v", s.cfg.ClientID, claimTopic(s.cfg.ClientID), ClaimRoot, sub.Error())
	}
	var held claim
	select { // the retained claim, if there is one, comes right after subscribing
	case held = <-got:
	case <-time.After(time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	deadline := time.Now().Add(2 * s.cfg.KeepAlive)
	for {
		now := time.Now()
		if held.Host == "" || held.stale(s.me, s.cfg.KeepAlive, now) {
			if held.Host != "" {
				s.log.Info("mqtt client id: the previous holder's claim is stale, taking the session over", "client_id", s.cfg.ClientID, "host", held.Host, "pid", held.PID)
			}
			return nil
		}
		if now.After(deadline) {
			return fmt.Errorf("%w: %q is held by ioc on %s (pid %d, running since %s, renewed %s ago); give each process its own mqtt.client_id",
				ErrClientIDInUse, s.cfg.ClientID, held.Host, held.PID, held.Started.Format(time.RFC3339), now.Sub(held.At).Round(time.Second))
		}
		renewed := held.At
		select {
		case c := <-got:
			if c.Host != "" && c.sameRun(held) && c.At.After(renewed) { // renewed: the holder runs
				return fmt.Errorf("%w: %q is held by ioc on %s (pid %d, running since %s); give each process its own mqtt.client_id",
					ErrClientIDInUse, s.cfg.ClientID, c.Host, c.PID, c.Started.Format(time.RFC3339))
			}
			held = c
		case <-time.After(time.Until(deadline) + 10*time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// renewClaim publishes this process's claim, retained, on the subscriber's connection.
func (s *Subscriber) renewClaim(c mqtt.Client) {
	me := s.me
	me.At = time.Now().UTC()
	body, _ := json.Marshal(me)
	c.Publish(claimTopic(s.cfg.ClientID), 1, true, body).WaitTimeout(s.cfg.ConnectTimeout)
}

// watchClaims renews the claim every keepalive/2 while connected, until ctx ends, and says
// loudly when another process claims the same client id meanwhile (the broker then takes the
// session from one to give it to the other at every reconnection).
func (s *Subscriber) watchClaims(ctx context.Context) {
	t := time.NewTicker(s.cfg.KeepAlive / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s.client.IsConnectionOpen() {
				s.renewClaim(s.client)
			}
		}
	}
}

// onClaim hears the claims of the subscriber's client id on its own connection. Claims made
// before this run started (queued in the persistent session from the previous run) and stale
// ones are history, not a conflict.
func (s *Subscriber) onClaim(_ mqtt.Client, m mqtt.Message) {
	var c claim
	if len(m.Payload()) == 0 || json.Unmarshal(m.Payload(), &c) != nil || c.sameRun(s.me) ||
		c.At.Before(s.me.Started) || c.stale(s.me, s.cfg.KeepAlive, time.Now()) {
		return
	}
	s.m.claimConflicts.Inc()
	s.log.Error("another ioc process claims this process's mqtt.client_id: the broker gives the session to one, then the other, and each loses what the other had not acknowledged; give each process its own mqtt.client_id",
		"client_id", s.cfg.ClientID, "other_host", c.Host, "other_pid", c.PID)
}

// releaseClaim clears the claim at a clean shutdown, so that the next start need not wait.
func (s *Subscriber) releaseClaim() {
	if s.client.IsConnectionOpen() {
		s.client.Publish(claimTopic(s.cfg.ClientID), 1, true, []byte{}).WaitTimeout(time.Second)
	}
}

// newClaim is this run's claim.
func newClaim() claim {
	host, _ := os.Hostname()
	return claim{Host: host, PID: os.Getpid(), Started: time.Now().UTC().Truncate(time.Millisecond)}
}
