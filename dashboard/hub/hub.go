// Package hub is the dashboard's live state and its fan-out to WebSocket clients. Producers
// publish items (a sensor's latest value, a camera's state, an alert, the KPIs), each the latest
// of its key and belonging to topics; every flush the hub sends each client, in one frame, the
// items of its topics that changed. A key that changes faster than its own pace (a chatty
// sensor) is coalesced to its latest value; a client that cannot keep up loses its queued
// frames, is told so, and gets the current state of its topics instead, so that a slow client
// never slows the others nor grows the hub's memory.
package hub

import (
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Item is one piece of live state.
type Item struct {
	// Key names what Data is the latest of: one sensor's metric, one camera, one alert.
	Key string
	// Kind tells clients how to read Data (reading, camera, alert, kpi).
	Kind string
	// Topics are the topics the item belongs to.
	Topics []string
	Data   any
	// Every is the least time between two sends of Key; changes in between are coalesced to
	// the latest. Zero sends every change at the next flush.
	Every time.Duration
	// Final marks the last state of a key (a resolved alert): it is sent, then forgotten.
	Final bool
}

// Options tune a hub.
type Options struct {
	// Flush is how often changes are sent.
	Flush time.Duration
	// Queue is how many frames may wait for one client.
	Queue int
}

// entry is an item in the hub's state.
type entry struct {
	Item
	version  uint64
	lastSent time.Time
	// queued: the entry is in dirty or in waiting (changed, not sent yet); due is when a
	// waiting entry's Every has passed
	queued  bool
	due     time.Time
	encoded []byte // the item as sent, for the version encoded
	encVer  uint64
}

// Hub holds the live state and the clients. Run owns the flushing; Publish, Subscribe and
// Detach may be called from any goroutine.
type Hub struct {
	opts Options
	m    *metrics

	mu    sync.Mutex
	state map[string]*entry
	// dirty holds the changed entries due at the next flush; waiting, those changed before
	// their Every passed, by when it does (a flush costs what is due, not every sensor that
	// changed in the last Every)
	dirty   map[string]*entry
	waiting dueHeap
	clients map[*Client]struct{}
	version uint64
}

// New builds a hub.
func New(opts Options, reg prometheus.Registerer) *Hub {
	if opts.Flush <= 0 {
		opts.Flush = 25 * time.Millisecond
	}
	if opts.Queue < 2 {
		opts.Queue = 64
	}
	h := &Hub{opts: opts, state: map[string]*entry{}, dirty: map[string]*entry{}, clients: map[*Client]struct{}{}}
	h.m = newMetrics(reg, h)
	return h
}

// Publish sets an item's latest state; it never blocks on clients.
func (h *Hub) Publish(it Item) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.version++
	e := h.state[it.Key]
	if e == nil {
		e = &entry{}
		h.state[it.Key] = e
	}
	e.Item, e.version = it, h.version
	h.m.published.Inc()
	switch {
	case e.queued: // sent with this data when its turn comes
		h.m.coalesced.Inc()
	case e.Every > 0 && !e.lastSent.IsZero(): // due an Every after its last send (flushes' clock)
		e.queued, e.due = true, e.lastSent.Add(e.Every)
		heap.Push(&h.waiting, e)
	default:
		e.queued = true
		h.dirty[it.Key] = e
	}
}

// Version counts the items published so far: it moves whenever the live state changes.
func (h *Hub) Version() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.version
}

// Get returns the latest data of key.
func (h *Hub) Get(key string) (any, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.state[key]; e != nil {
		return e.Data, true
	}
	return nil, false
}

// Each calls f with the latest data of every item of kind, in no order, under the hub's lock:
// f must be quick and must not call the hub.
func (h *Hub) Each(kind string, f func(key string, data any)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, e := range h.state {
		if e.Kind == kind {
			f(k, e.Data)
		}
	}
}

// Run flushes until ctx ends.
func (h *Hub) Run(ctx context.Context) error {
	t := time.NewTicker(h.opts.Flush)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			h.flush(now)
		}
	}
}

// encode returns e's frame bytes, encoding them once per version; the caller holds h.mu.
func (e *entry) encode() []byte {
	if e.encoded == nil || e.encVer != e.version {
		b, err := json.Marshal(struct {
			Kind string `json:"kind"`
			Key  string `json:"key"`
			Data any    `json:"data"`
		}{e.Kind, e.Key, e.Data})
		if err != nil {
			b = fmt.Appendf(nil, `{"kind":%q,"key":%q,"error":"not encodable"}`, e.Kind, e.Key)
		}
		e.encoded, e.encVer = b, e.version
	}
	return e.encoded
}

// sent is one due item as encoded for this flush.
type sent struct {
	topics []string
	bytes  []byte
}

// flush sends every client the due items of its topics.
func (h *Hub) flush(now time.Time) {
	h.mu.Lock()
	for len(h.waiting) > 0 && !h.waiting[0].due.After(now) {
		e := heap.Pop(&h.waiting).(*entry)
		h.dirty[e.Key] = e
	}
	var due []sent
	for k, e := range h.dirty {
		e.lastSent, e.queued = now, false
		due = append(due, sent{e.Topics, e.encode()})
		delete(h.dirty, k)
		if e.Final {
			delete(h.state, k)
		}
	}
	clients := make([]*Client, 0, len(h.clients))
	for c := range h.clients {
		clients = append(clients, c)
	}
	h.mu.Unlock()
	if len(due) == 0 {
		return
	}
	h.m.flushed.Add(float64(len(due)))
	frames := map[string][]byte{} // by subscription: clients with the same topics share a frame
	for _, c := range clients {
		c.mu.Lock()
		f, ok := frames[c.sig]
		if !ok {
			f = updateFrame(due, c.topics)
			frames[c.sig] = f
		}
		if f != nil {
			h.enqueue(c, f)
		}
		c.mu.Unlock()
	}
}

// updateFrame is the frame of the due items in topics, nil when there is none.
func updateFrame(due []sent, topics map[string]bool) []byte {
	var b []byte
	for _, s := range due {
		if !slices.ContainsFunc(s.topics, func(t string) bool { return topics[t] }) {
			continue
		}
		if b == nil {
			b = append(b, `{"type":"update","items":[`...)
		} else {
			b = append(b, ',')
		}
		b = append(b, s.bytes...)
	}
	if b == nil {
		return nil
	}
	return append(b, "]}"...)
}

// enqueue queues a frame for c, whose mu the caller holds. When c's queue is full, c is slow:
// its queued frames are dropped and it gets a notice and the current state of its topics.
func (h *Hub) enqueue(c *Client, f []byte) {
	select {
	case c.frames <- f:
		return
	default:
	}
	dropped := 1
	for drained := false; !drained; {
		select {
		case <-c.frames:
			dropped++
		default:
			drained = true
		}
	}
	h.m.lagged.Inc()
	h.m.dropped.Add(float64(dropped))
	c.frames <- fmt.Appendf(nil, `{"type":"lagged","dropped":%d}`, dropped)
	c.frames <- h.snapshot(c.topics)
}

// snapshot is the frame of the current state of topics.
func (h *Hub) snapshot(topics map[string]bool) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, _ := json.Marshal(sortedTopics(topics))
	b = append(append([]byte(`{"type":"snapshot","topics":`), b...), `,"items":[`...)
	first := true
	for _, e := range h.state {
		if !slices.ContainsFunc(e.Topics, func(t string) bool { return topics[t] }) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, e.encode()...)
	}
	return append(b, "]}"...)
}

// Client is one connection's subscription and outgoing queue.
type Client struct {
	frames chan []byte
	mu     sync.Mutex
	topics map[string]bool
	sig    string
}

// Attach adds a client without topics.
func (h *Hub) Attach() *Client {
	c := &Client{frames: make(chan []byte, h.opts.Queue), topics: map[string]bool{}}
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	return c
}

// Detach removes a client; its queue is no longer fed.
func (h *Hub) Detach(c *Client) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
}

// Frames is the client's outgoing queue: the connection's writer sends what comes out.
func (c *Client) Frames() <-chan []byte { return c.frames }

// Topics lists the client's topics, sorted.
func (c *Client) Topics() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return sortedTopics(c.topics)
}

// Subscribe adds topics to c and queues the current state of the new ones. A client may hold
// at most maxTopics topics.
func (h *Hub) Subscribe(c *Client, topics []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	added := map[string]bool{}
	for _, t := range topics {
		if !c.topics[t] {
			added[t] = true
		}
	}
	if len(c.topics)+len(added) > maxTopics {
		return fmt.Errorf("at most %d topics per connection", maxTopics)
	}
	for t := range added {
		c.topics[t] = true
	}
	c.resign()
	if len(added) > 0 {
		h.enqueue(c, h.snapshot(added))
	}
	return nil
}

// Unsubscribe removes topics from c.
func (h *Hub) Unsubscribe(c *Client, topics []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range topics {
		delete(c.topics, t)
	}
	c.resign()
}

const maxTopics = 64

// resign recomputes the subscription's signature; the caller holds c.mu.
func (c *Client) resign() { c.sig = strings.Join(sortedTopics(c.topics), "\x00") }

// sortedTopics lists a topic set in order (an empty list, never nil, so that it encodes as []).
func sortedTopics(topics map[string]bool) []string {
	return append(make([]string, 0, len(topics)), slices.Sorted(maps.Keys(topics))...)
}

// dueHeap orders waiting entries by when they are due (container/heap).
type dueHeap []*entry

func (q dueHeap) Len() int           { return len(q) }
func (q dueHeap) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q dueHeap) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *dueHeap) Push(x any)        { *q = append(*q, x.(*entry)) }
func (q *dueHeap) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}
