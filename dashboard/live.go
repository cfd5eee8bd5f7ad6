package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/dashboard/hub"
)

// The live hub's protocol, over one WebSocket at /api/v1/live. The client authenticates with
// an Authorization header or, from a browser, with its first message within 5 seconds:
//
//	→ {"type":"auth","token":"…"}            ← {"type":"welcome","principal":{…}}
//	→ {"type":"subscribe","topics":["alerts","kpi","district.Sa Pa"]}
//	                                          ← {"type":"subscribed","topics":[…]}
//	                                          ← {"type":"snapshot","topics":[…],"items":[…]}
//	                                          ← {"type":"update","items":[{"kind","key","data"}…]}
//	→ {"type":"unsubscribe","topics":[…]}
//	→ {"type":"ping"}                         ← {"type":"pong"}
//	                                          ← {"type":"lagged","dropped":N} then a snapshot
//	                                          ← {"type":"error","code":…,"message_vi":…,"message_en":…}
//
// Topics: alerts (every alert: not for units), alerts.unit.<unit> (a unit's alerts: its own
// units only), kpi, sensors, sensor.<id>, cameras, camera.<id>, district.<name>. The server
// pings every 20 seconds and closes a connection silent for 60.
const (
	authWait     = 5 * time.Second
	pingEvery    = 20 * time.Second
	readDeadline = 60 * time.Second
	writeWait    = 10 * time.Second
	maxLiveMsg   = 16 << 10
)

type liveMsg struct {
	Type   string   `json:"type"`
	Token  string   `json:"token,omitempty"`
	Topics []string `json:"topics,omitempty"`
}

// mayWatch reports whether p may subscribe to topic.
func mayWatch(p *auth.Principal, topic string) bool {
	if !p.Can(auth.Read) {
		return false
	}
	switch {
	case topic == "alerts":
		return p.SeesAll()
	case strings.HasPrefix(topic, "alerts.unit."):
		u := strings.TrimPrefix(topic, "alerts.unit.")
		return u != "" && (p.SeesAll() || slices.Contains(p.Units, u))
	case topic == "kpi", topic == "sensors", topic == "cameras":
		return true
	}
	for _, prefix := range []string{"sensor.", "camera.", "district."} {
		if rest, ok := strings.CutPrefix(topic, prefix); ok && rest != "" && len(rest) <= 128 {
			return true
		}
	}
	return false
}

// live answers the WebSocket upgrade of /api/v1/live.
func (s *Server) live(c *fiber.Ctx, _ *auth.Principal) error {
	if s.src.City == nil {
		return errUnavailable
	}
	if !websocket.IsWebSocketUpgrade(c) {
		return &apiError{Status: fiber.StatusUpgradeRequired, Code: "websocket_required", MessageVI: "Cần kết nối WebSocket", MessageEN: "connect with a WebSocket"}
	}
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		p, err := s.authenticate(c, h)
		if err != nil {
			return err
		}
		c.Locals(principalKey, p)
	}
	return s.upgrade(c)
}

func (s *Server) liveHandler() fiber.Handler {
	return websocket.New(func(conn *websocket.Conn) {
		p, _ := conn.Locals(principalKey).(*auth.Principal)
		lc := &liveConn{s: s, conn: conn, p: p}
		lc.run()
	}, websocket.Config{ReadBufferSize: 4096, WriteBufferSize: 16 << 10, EnableCompression: false})
}

// liveConn is one client of the hub.
type liveConn struct {
	s    *Server
	conn *websocket.Conn
	p    *auth.Principal
	mu   sync.Mutex // serialises writes
}

func (lc *liveConn) write(b []byte) error {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	_ = lc.conn.SetWriteDeadline(time.Now().Add(writeWait))
	return lc.conn.WriteMessage(websocket.TextMessage, b)
}

func (lc *liveConn) send(v any) error {
	b, _ := json.Marshal(v)
	return lc.write(b)
}

func (lc *liveConn) fail(e *apiError) error {
	return lc.send(map[string]string{"type": "error", "code": e.Code, "message_vi": e.MessageVI, "message_en": e.MessageEN, "detail": e.Detail})
}

// run serves the connection until it ends or the server stops: it reads the client's messages
// here and writes the hub's frames from a goroutine it owns.
func (lc *liveConn) run() {
	s, conn := lc.s, lc.conn
	conn.SetReadLimit(maxLiveMsg)
	if lc.p == nil && !lc.authenticate() {
		return
	}
	h := s.src.City.Hub()
	client := h.Attach()
	s.m.liveClients.Inc()
	defer s.m.liveClients.Dec()
	ctx, cancel := context.WithCancel(s.ctx)
	var wg sync.WaitGroup
	wg.Go(func() { lc.writeLoop(ctx, client) })
	defer func() {
		h.Detach(client)
		cancel()
		_ = conn.Close()
		wg.Wait()
	}()
	_ = lc.send(map[string]any{"type": "welcome", "principal": lc.p})
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(readDeadline)) })
	for {
		_ = conn.SetReadDeadline(time.Now().Add(readDeadline))
		var m liveMsg
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if err := json.Unmarshal(data, &m); err != nil {
			_ = lc.fail(errBadRequest("bad_json", "a message is a JSON object with a type"))
			continue
		}
		switch m.Type {
		case "ping":
			_ = lc.send(map[string]string{"type": "pong"})
		case "subscribe":
			for _, t := range m.Topics {
				if !mayWatch(lc.p, t) {
					s.m.denied.Inc()
					_ = lc.fail(&apiError{Code: "forbidden_topic", MessageVI: "Không được theo dõi chủ đề này", MessageEN: "you may not watch this topic", Detail: t})
					m.Topics = nil
					break
				}
			}
			if len(m.Topics) == 0 {
				continue
			}
			if err := h.Subscribe(client, m.Topics); err != nil {
				_ = lc.fail(errBadRequest("too_many_topics", err.Error()))
				continue
			}
			_ = lc.send(map[string]any{"type": "subscribed", "topics": client.Topics()})
		case "unsubscribe":
			h.Unsubscribe(client, m.Topics)
			_ = lc.send(map[string]any{"type": "subscribed", "topics": client.Topics()})
		default:
			_ = lc.fail(errBadRequest("bad_message", "type: want subscribe, unsubscribe or ping"))
		}
	}
}

// authenticate waits for the client's auth message; an address throttled for its refused
// tokens is closed at once.
func (lc *liveConn) authenticate() bool {
	remote := lc.conn.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(remote); err == nil {
		remote = host // the throttle counts per address, as the API's
	}
	if lc.s.throttle.blocked(remote) {
		lc.s.m.throttled.Inc()
		_ = lc.fail(errTooManyRefused)
		_ = lc.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "too many refused tokens"), time.Now().Add(time.Second))
		_ = lc.conn.Close()
		return false
	}
	_ = lc.conn.SetReadDeadline(time.Now().Add(authWait))
	var m liveMsg
	_, data, err := lc.conn.ReadMessage()
	if err == nil {
		err = json.Unmarshal(data, &m)
	}
	if err == nil && m.Type == "auth" {
		var p *auth.Principal
		if p, err = lc.s.auth.Authenticate(lc.s.ctx, m.Token); err == nil && p.Can(auth.Read) {
			lc.p = p
			return true
		} else if err == nil {
			err = fmt.Errorf("role %s may not read", p.Role)
		}
	} else if err == nil {
		err = errors.New("first message is not auth")
	}
	_ = lc.fail(lc.s.refuse(remote, APIPrefix+"/live", err))
	_ = lc.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "unauthenticated"), time.Now().Add(time.Second))
	_ = lc.conn.Close()
	return false
}

// writeLoop sends the hub's frames and the heartbeats until ctx ends or a write fails.
func (lc *liveConn) writeLoop(ctx context.Context, client *hub.Client) {
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = lc.conn.Close() // the server stops: end the read loop
			return
		case f := <-client.Frames():
			if err := lc.write(f); err != nil {
				_ = lc.conn.Close() // ends the read loop too
				return
			}
			lc.s.m.liveFrames.Inc()
		case <-ping.C:
			lc.mu.Lock()
			err := lc.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait))
			lc.mu.Unlock()
			if err != nil {
				_ = lc.conn.Close()
				return
			}
		}
	}
}
