package alerts

import (
	"cmp"
	"context"
	"encoding/xml"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/backoff"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/outbox"
)

// CAPRecord is one published CAP message as stored.
type CAPRecord = analytics.CAPMessage

// CAPStore keeps the published messages and the drafts (ClickHouseStore in production).
type CAPStore interface {
	AppendCAP(ctx context.Context, recs []CAPRecord) error
	PutCAPDrafts(ctx context.Context, drafts []CAPDraftRecord) error
	PendingCAPDrafts(ctx context.Context) ([]CAPDraftRecord, error)
	// CAPMessages returns the messages sent since, and every message of alerts not yet
	// cancelled, oldest first within each alert.
	CAPMessages(ctx context.Context, since time.Time) ([]CAPRecord, error)
	// CAPDocument returns the stored document of one message, ErrNotFound when none.
	CAPDocument(ctx context.Context, identifier string) ([]byte, error)
}

// capEntry is one published message held for the feed.
type capEntry struct {
	sent time.Time
	msg  *CAPMessage
	doc  []byte
}

// maxCAPReferences bounds the earlier messages one message references (the newest ones).
const maxCAPReferences = 20

// maxFeedEntries bounds the entries of the Atom feed (the newest ones).
const maxFeedEntries = 500

// CAPFeed publishes public warnings: it hears the engine's notifications (it is a Notifier)
// and, for the alerts of rules marked public, makes one CAP 1.2 message per change: Alert when
// one fires, Update when its severity or level changes, Cancel when it ends. A message that
// must be released by people (every Actual one, every one of a suspect alert: needsApproval)
// waits as a draft until enough of them approve it; a Cancel of a published warning goes out
// at once. Messages and drafts are kept in ClickHouse (cap_messages, cap_drafts), so that the
// feed, every message's references and the drafts survive a restart; the feed is served as
// Atom and one document per message.
type CAPFeed struct {
	cfg     config.CAP
	engine  *Engine // asked which alerts still live (pruneDrafts)
	store   CAPStore
	out     *outbox.Outbox[CAPRecord]
	drafted *outbox.Outbox[CAPDraftRecord]
	m       *metrics
	log     *slog.Logger
	now     func() time.Time

	mu      sync.Mutex
	sensors *ingest.Catalog
	byAlert map[string][]*capEntry // oldest first
	byID    map[string]*capEntry
	drafts  map[string]*CAPDraft // pending, by alert

	lastVersion atomic.Uint64 // of the drafts' records (nextVersion)
	// pruneEvery is how often drafts of alerts that no longer live are dropped (an alert that
	// ended while ioc was down has no end notified).
	pruneEvery time.Duration
	// fence, with a lease, refuses the changes of a term this process no longer holds.
	fence func(term uint64) error
}

// SetFence has every change pass fence for its event's term first: a process whose alert lease
// has ended publishes no warning. Call it before Run.
func (f *CAPFeed) SetFence(fence func(term uint64) error) { f.fence = fence }

// Reload merges in the messages and drafts stored since the feed was loaded: at the start of
// a term, what the previous leader published.
func (f *CAPFeed) Reload(ctx context.Context) error { return f.load(ctx) }

// NewCAPFeed builds the feed of engine e's public alerts; sensors gives districts' areas.
func NewCAPFeed(cfg config.CAP, e *Engine, store CAPStore, sensors *ingest.Catalog, log *slog.Logger) *CAPFeed {
	f := &CAPFeed{cfg: cfg, engine: e, store: store, m: e.m, log: log, now: time.Now, sensors: sensors, pruneEvery: time.Minute,
		byAlert: map[string][]*capEntry{}, byID: map[string]*capEntry{}, drafts: map[string]*CAPDraft{}}
	f.out = outbox.New("cap_messages", 10_000, store.AppendCAP, e.m.outbox("cap_messages"), log)
	f.drafted = outbox.New("cap_drafts", 10_000, store.PutCAPDrafts, e.m.outbox("cap_drafts"), log)
	for _, t := range []string{CAPAlert, CAPUpdate, CAPCancel} {
		e.m.capMessages.WithLabelValues(t)
	}
	return f
}

// SetCatalog gives the feed a reloaded sensor catalog (districts' areas).
func (f *CAPFeed) SetCatalog(sensors *ingest.Catalog) {
	f.mu.Lock()
	f.sensors = sensors
	f.mu.Unlock()
}

// Run loads the messages published before (retrying while the store fails), then writes new
// ones to the store until ctx ends.
func (f *CAPFeed) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, o := range []interface {
		Run(context.Context, time.Duration)
	}{f.out, f.drafted} {
		wg.Add(1)
		go func() { // owned here: Run waits for it below
			defer wg.Done()
			o.Run(ctx, 5*time.Second)
		}()
	}
	bo := backoff.Backoff{Initial: time.Second, Max: 30 * time.Second}
	for {
		err := f.load(ctx)
		if err == nil {
			break
		}
		f.log.Error("published CAP messages not loaded; retrying", "err", err)
		if !bo.Wait(ctx) {
			break
		}
	}
	t := time.NewTicker(f.pruneEvery)
	defer t.Stop()
	for ctx.Err() == nil {
		f.pruneDrafts(ctx)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	wg.Wait()
	return nil
}

// pruneDrafts drops the drafts of alerts the engine no longer has: they ended before anyone
// released them, while no end could be notified (ioc was down, or the draft was stored by
// another process).
func (f *CAPFeed) pruneDrafts(ctx context.Context) {
	live, err := f.engine.Alerts(ctx, Filter{})
	if err != nil {
		return // the engine is stopping
	}
	ids := make(map[string]bool, len(live))
	for _, a := range live {
		ids[a.ID] = true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for id := range f.drafts {
		if !ids[id] {
			f.dropDraft(id, "the alert ended before it was released")
		}
	}
}

func (f *CAPFeed) load(ctx context.Context) error {
	recs, err := f.store.CAPMessages(ctx, f.now().Add(-f.cfg.Window))
	if err != nil {
		return err
	}
	loaded := map[string][]*capEntry{}
	for _, r := range recs {
		m := &CAPMessage{}
		if err := xml.Unmarshal(r.XML, m); err != nil || len(m.Info) == 0 {
			f.log.Error("stored CAP message unreadable; left out of the feed", "identifier", r.Identifier, "err", err)
			continue
		}
		loaded[r.AlertID] = append(loaded[r.AlertID], &capEntry{sent: r.Sent, msg: m, doc: r.XML})
	}
	pending, err := f.store.PendingCAPDrafts(ctx)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range pending {
		if f.drafts[r.AlertID] != nil {
			continue // drafted again while loading: newer
		}
		d, err := draftFromRecord(r)
		if err != nil {
			f.log.Error("stored CAP draft unreadable; left out", "err", err)
			continue
		}
		f.drafts[r.AlertID] = d
	}
	f.m.capDrafts.Set(float64(len(f.drafts)))
	for id, es := range loaded {
		// messages published while loading are newer than the stored ones
		known := f.byAlert[id]
		es = slices.DeleteFunc(es, func(e *capEntry) bool { return f.byID[e.msg.Identifier] != nil })
		f.byAlert[id] = append(es, known...)
		for _, e := range es {
			f.byID[e.msg.Identifier] = e
		}
	}
	f.log.Info("CAP feed loaded", "messages", len(recs), "alerts", len(loaded), "drafts", len(pending))
	return nil
}

// Notify publishes n when it is a change of a public alert; it never blocks.
func (f *CAPFeed) Notify(n Notification) {
	a := &n.Event.Alert
	if !a.Public {
		return
	}
	if f.fence != nil {
		if err := f.fence(n.Event.Term); err != nil {
			f.log.Warn("public warning of an ended term not published (fenced)", "alert", a.ID, "err", err)
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	prev := f.byAlert[a.ID]
	if len(prev) > 0 && prev[len(prev)-1].msg.MsgType == CAPCancel {
		return // ended already
	}
	var typ string
	switch n.Event.Kind {
	case EventFiring, EventUpdated:
		typ = CAPAlert
		if len(prev) > 0 {
			typ = CAPUpdate
		}
	case EventResolved:
		if len(prev) == 0 {
			f.dropDraft(a.ID, "the alert ended before it was released")
			return // nothing was published, nothing to cancel
		}
		typ = CAPCancel
	default:
		return
	}
	refs := make([]*CAPMessage, 0, min(len(prev), maxCAPReferences))
	for _, e := range prev[max(0, len(prev)-maxCAPReferences):] {
		refs = append(refs, e.msg)
	}
	var district *ingest.District
	if f.sensors != nil {
		district = f.sensors.District(a.District)
	}
	msg := buildCAP(f.cfg, typ, a, n.Event.Time, refs, district)
	doc, err := xmlDocument(msg, "cap "+msg.Identifier)
	if err != nil {
		f.log.Error("CAP message not made", "alert", a.ID, "err", err)
		return
	}
	if typ != CAPCancel && f.needsApproval(a) {
		f.draft(a, msg, doc, n.Event.Time)
		return
	}
	f.dropDraft(a.ID, "a newer message of the alert went out without approval")
	f.release(a.ID, a.Seq, msg, doc, n.Event.Time)
}

// release publishes a message: on the feed, and stored. Called with f.mu held.
func (f *CAPFeed) release(alertID string, seq uint32, msg *CAPMessage, doc []byte, sent time.Time) {
	e := &capEntry{sent: sent, msg: msg, doc: doc}
	f.byAlert[alertID] = append(f.byAlert[alertID], e)
	f.byID[msg.Identifier] = e
	f.out.Add(CAPRecord{Sent: e.sent, Identifier: msg.Identifier, AlertID: alertID, Seq: seq, MsgType: msg.MsgType, XML: doc})
	f.m.capMessages.WithLabelValues(msg.MsgType).Inc()
	f.prune()
}

// prune forgets the messages of alerts that ended longer than the window ago; their documents
// stay in the store.
func (f *CAPFeed) prune() {
	cut := f.now().Add(-f.cfg.Window)
	for id, es := range f.byAlert {
		if last := es[len(es)-1]; last.msg.MsgType == CAPCancel && last.sent.Before(cut) {
			for _, e := range es {
				delete(f.byID, e.msg.Identifier)
			}
			delete(f.byAlert, id)
		}
	}
}

// Atom returns the feed: every message of the alerts still in force and of those that ended
// within the window, newest first; base is prefixed to the documents' paths.
func (f *CAPFeed) Atom(base string) ([]byte, error) {
	f.mu.Lock()
	f.prune()
	entries := make([]*capEntry, 0, len(f.byID))
	for _, e := range f.byID {
		entries = append(entries, e)
	}
	f.mu.Unlock()
	slices.SortFunc(entries, func(a, b *capEntry) int {
		if c := b.sent.Compare(a.sent); c != 0 {
			return c
		}
		return cmp.Compare(b.msg.Identifier, a.msg.Identifier)
	})
	if len(entries) > maxFeedEntries {
		entries = entries[:maxFeedEntries]
	}
	return buildAtom(f.cfg, base, entries, f.now())
}

// Document returns the CAP document of one message, from memory or the store; ErrNotFound
// when there is none.
func (f *CAPFeed) Document(ctx context.Context, identifier string) ([]byte, error) {
	f.mu.Lock()
	e := f.byID[identifier]
	f.mu.Unlock()
	if e != nil {
		return e.doc, nil
	}
	doc, err := f.store.CAPDocument(ctx, identifier)
	if err != nil {
		return nil, fmt.Errorf("cap message %q: %w", identifier, err)
	}
	return doc, nil
}
