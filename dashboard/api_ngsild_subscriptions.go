package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/dashboard/ngsild"
	"github.com/haidang-ioc/ioc/dashboard/ngsild/notify"
	"github.com/haidang-ioc/ioc/internal/backoff"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/httpsend"
)

// SubscriptionStore keeps the NGSI-LD subscriptions and their delivery log
// (analytics.NGSILDStore).
type SubscriptionStore interface {
	PutSubscription(ctx context.Context, r analytics.SubscriptionRow) error
	Subscriptions(ctx context.Context) ([]analytics.SubscriptionRow, error)
	AppendDeliveries(ctx context.Context, ds []analytics.DeliveryRow) error
	DeliveryStats(ctx context.Context, targets []string) (map[string]analytics.DeliveryStats, error)
	Through(ctx context.Context, targets []string) (map[string]time.Time, error)
}

// Sharing is what the NGSI-LD API sends beyond its answers: the subscriptions kept in Store
// and the pushes of Config, delivered by the process that leads the alert engine (every
// process when no lease elects one).
type Sharing struct {
	Store  SubscriptionStore
	Config config.NGSILD
	// ContextURL is the @context's URL as partners reach this server (http.advertise_url).
	ContextURL string
	// Getenv reads the pushes' tokens (token_env).
	Getenv func(string) string
	// Tick is how often the city is compared with what was sent (0: 100 ms), RetryAfter the
	// first wait before a delivery is tried again (0: 1 s).
	Tick, RetryAfter time.Duration
}

// mountSubscriptions serves /ngsi-ld/v1/subscriptions behind handlers (the guard and the
// rate limit).
func (s *Server) mountSubscriptions(g fiber.Router, handlers []fiber.Handler) {
	g.Post("/subscriptions", append(handlers, s.subscribe)...)
	g.Get("/subscriptions", append(handlers, s.subscriptionList)...)
	g.Get("/subscriptions/:id", append(handlers, s.subscriptionGet)...)
	g.Patch("/subscriptions/:id", append(handlers, s.subscriptionPatch)...)
	g.Delete("/subscriptions/:id", append(handlers, s.unsubscribe)...)
}

// subscriptionScope is the scope a subscription's owner reads, kept with it.
type subscriptionScope struct {
	Types     []string `json:"types,omitempty"`
	Districts []string `json:"districts,omitempty"`
}

// stored is one subscription as the store keeps it.
type stored struct {
	row analytics.SubscriptionRow
	sub ngsild.Subscription
}

var errNoSubscriptions = &ngsild.Problem{Type: ngsild.ErrOperationNotSupported, Title: "Operation not supported", Status: 422,
	Detail: "this server keeps no subscriptions (no ClickHouse in this process)"}

// storedSubscriptions reads the stored subscriptions that keep takes (nil: all), decoded; one
// that does not decode is logged and left out.
func (s *Server) storedSubscriptions(ctx context.Context, keep func(analytics.SubscriptionRow) bool) ([]stored, error) {
	rows, err := s.opts.Sharing.Store.Subscriptions(ctx)
	if err != nil {
		return nil, err
	}
	var out []stored
	for _, r := range rows {
		if keep != nil && !keep(r) {
			continue
		}
		var sub ngsild.Subscription
		if err := json.Unmarshal([]byte(r.Doc), &sub); err != nil {
			s.log.Error("a stored NGSI-LD subscription does not decode; skipped", "id", r.ID, "err", err)
			continue
		}
		out = append(out, stored{row: r, sub: sub})
	}
	return out, nil
}

// visibleTo keeps the subscriptions p may see: its own, or all for an administrator.
func visibleTo(p *auth.Principal) func(analytics.SubscriptionRow) bool {
	return func(r analytics.SubscriptionRow) bool { return r.Owner == p.ID || p.Can(auth.Administer) }
}

// findSubscription is the subscription of the path's id that p may see; nil with the problem
// answered.
func (s *Server) findSubscription(c *fiber.Ctx) (*stored, error) {
	if s.opts.Sharing == nil {
		return nil, sendProblem(c, errNoSubscriptions)
	}
	id, err := url.PathUnescape(c.Params("id"))
	if err != nil {
		return nil, sendProblem(c, ngsild.BadRequest("id", "not a URI"))
	}
	subs, err := s.storedSubscriptions(c.UserContext(), visibleTo(principal(c)))
	if err != nil {
		return nil, err
	}
	for i := range subs {
		if subs[i].sub.ID == id {
			return &subs[i], nil
		}
	}
	return nil, sendProblem(c, ngsild.NotFound("no subscription "+id))
}

// endpointAllowed tells whether notifications may be posted to u: a URL under one of
// ngsild.notify_to's prefixes (same scheme and host, the port when the prefix names one, the
// path under the prefix's, without dot segments that would climb out of it).
func endpointAllowed(prefixes []string) func(*url.URL) bool {
	return func(u *url.URL) bool {
		if clean := path.Clean("/" + u.Path); u.Path != "" && clean != u.Path && clean != strings.TrimSuffix(u.Path, "/") {
			return false
		}
		for _, raw := range prefixes {
			p, err := url.Parse(raw)
			if err != nil {
				continue
			}
			if p.Scheme == u.Scheme && strings.EqualFold(p.Hostname(), u.Hostname()) && (p.Port() == "" || p.Port() == u.Port()) &&
				strings.HasPrefix(u.Path, p.Path) {
				return true
			}
		}
		return false
	}
}

// subscribe answers POST /ngsi-ld/v1/subscriptions.
func (s *Server) subscribe(c *fiber.Ctx) error {
	if s.opts.Sharing == nil {
		return sendProblem(c, errNoSubscriptions)
	}
	p := principal(c)
	now := time.Now() // expiresAt is the partner's, on the wall clock (not a simulated province's)
	sub, _, err := ngsild.ParseSubscription(c.Body(), now, endpointAllowed(s.opts.Sharing.Config.NotifyTo))
	if err != nil {
		return sendNGSILDError(c, err)
	}
	scope := ngsildScope(p)
	if prob := outOfScope(scope, sub); prob != nil {
		return sendProblem(c, prob)
	}
	rows, err := s.opts.Sharing.Store.Subscriptions(c.UserContext())
	if err != nil {
		return err
	}
	if slices.ContainsFunc(rows, func(r analytics.SubscriptionRow) bool { return r.ID == sub.ID }) {
		return sendProblem(c, &ngsild.Problem{Type: ngsild.ErrAlreadyExists, Title: "Already exists", Status: fiber.StatusConflict, Detail: sub.ID})
	}
	if mine := len(slices.DeleteFunc(rows, func(r analytics.SubscriptionRow) bool { return r.Owner != p.ID })); mine >= s.opts.Sharing.Config.MaxSubscriptions {
		return sendProblem(c, &ngsild.Problem{Type: "about:blank", Title: "Forbidden", Status: fiber.StatusForbidden,
			Detail: fmt.Sprintf("this caller holds %d subscriptions, the most ngsild.max_subscriptions allows: delete one first", mine)})
	}
	scopeDoc, _ := json.Marshal(subscriptionScope{Types: scope.Types, Districts: scope.Districts})
	if err := s.putSubscription(c, analytics.SubscriptionRow{ID: sub.ID, Owner: p.ID, Created: now, Scope: string(scopeDoc)}, sub); err != nil {
		return err
	}
	s.audit(p, "ngsild.subscribe", sub.ID, withoutQuery(sub.Notification.Endpoint.URI), fiber.StatusCreated, c.IP()) // never a token of the URL
	c.Set(fiber.HeaderLocation, NGSILDPrefix+"/subscriptions/"+url.PathEscape(sub.ID))
	c.Status(fiber.StatusCreated) // no body: the Location names it
	return nil
}

// outOfScope is the problem of a subscription to an entity type the caller does not read.
func outOfScope(scope ngsild.Scope, sub *ngsild.Subscription) *ngsild.Problem {
	for _, es := range sub.Entities {
		if scope.Types != nil && !slices.Contains(scope.Types, es.Type) {
			return &ngsild.Problem{Type: "about:blank", Title: "Forbidden", Status: fiber.StatusForbidden, Detail: "this key does not read " + es.Type}
		}
	}
	return nil
}

// putSubscription stores a version of sub in row and has the notifier read it.
func (s *Server) putSubscription(c *fiber.Ctx, row analytics.SubscriptionRow, sub *ngsild.Subscription) error {
	sub.Context = nil // the terms are this server's @context's
	sub.ClearStatus()
	doc, err := json.Marshal(sub)
	if err != nil {
		return err
	}
	row.Doc = string(doc)
	if err := s.opts.Sharing.Store.PutSubscription(c.UserContext(), row); err != nil {
		return err
	}
	if s.notifier != nil {
		s.notifier.Nudge()
	}
	return nil
}

// sendNGSILDError answers err: its problem, or an internal error.
func sendNGSILDError(c *fiber.Ctx, err error) error {
	var prob *ngsild.Problem
	if !errors.As(err, &prob) {
		return err
	}
	return sendProblem(c, prob)
}

// subscriptionList answers GET /ngsi-ld/v1/subscriptions: the caller's (an administrator's:
// all), limit and offset paging them.
func (s *Server) subscriptionList(c *fiber.Ctx) error {
	if s.opts.Sharing == nil {
		return sendProblem(c, errNoSubscriptions)
	}
	limit, err := strconv.Atoi(c.Query("limit", strconv.Itoa(ngsild.DefaultLimit)))
	if err != nil || limit < 1 || limit > ngsild.MaxLimit {
		return sendProblem(c, ngsild.BadRequest("limit", fmt.Sprintf("want 1 to %d", ngsild.MaxLimit)))
	}
	offset, err := strconv.Atoi(c.Query("offset", "0"))
	if err != nil || offset < 0 {
		return sendProblem(c, ngsild.BadRequest("offset", "want a whole number ≥ 0"))
	}
	subs, err := s.storedSubscriptions(c.UserContext(), visibleTo(principal(c)))
	if err != nil {
		return err
	}
	if c.Query("count") == "true" {
		c.Response().Header.DisableNormalizing()
		c.Set("NGSILD-Results-Count", strconv.Itoa(len(subs)))
	}
	subs = subs[min(offset, len(subs)):]
	subs = subs[:min(limit, len(subs))]
	out, err := s.renderSubscriptions(c, subs)
	if err != nil {
		return err
	}
	return sendEntities(c, out, s.contextURL(c))
}

// subscriptionGet answers GET /ngsi-ld/v1/subscriptions/{id}.
func (s *Server) subscriptionGet(c *fiber.Ctx) error {
	st, err := s.findSubscription(c)
	if st == nil {
		return err
	}
	out, err := s.renderSubscriptions(c, []stored{*st})
	if err != nil {
		return err
	}
	return sendEntities(c, out[0], s.contextURL(c))
}

// renderSubscriptions are subs as their owners read them: receiverInfo's values hidden, the
// status and the delivery log's account.
func (s *Server) renderSubscriptions(c *fiber.Ctx, subs []stored) ([]ngsild.Subscription, error) {
	ids := make([]string, len(subs))
	for i := range subs {
		ids[i] = subs[i].sub.ID
	}
	stats, err := s.opts.Sharing.Store.DeliveryStats(c.UserContext(), ids)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]ngsild.Subscription, len(subs))
	for i := range subs {
		sub := subs[i].sub.Redacted()
		sub.Status = sub.State(now)
		if st, ok := stats[sub.ID]; ok {
			n := &sub.Notification
			n.TimesSent = st.Sent
			if !st.Last.IsZero() {
				n.LastNotification = ngsild.Stamp(st.Last)
			}
			n.Status = "ok"
			if !st.LastSuccess.IsZero() {
				n.LastSuccess = ngsild.Stamp(st.LastSuccess)
			}
			if !st.LastFailure.IsZero() {
				n.LastFailure = ngsild.Stamp(st.LastFailure)
				if st.LastFailure.After(st.LastSuccess) {
					n.Status = "failed"
				}
			}
		}
		if wantsLD(c) {
			sub.Context = s.contextURL(c)
		}
		out[i] = sub
	}
	return out, nil
}

// subscriptionPatch answers PATCH /ngsi-ld/v1/subscriptions/{id}: the members given replace
// the subscription's (not its id or type), checked as a new one is.
func (s *Server) subscriptionPatch(c *fiber.Ctx) error {
	st, err := s.findSubscription(c)
	if st == nil {
		return err
	}
	sub := st.sub
	if len(c.Body()) > ngsild.MaxSubscriptionBytes {
		return sendProblem(c, ngsild.BadRequest("body", "too large"))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(c.Body(), &fields); err != nil || len(fields) == 0 {
		return sendProblem(c, ngsild.BadRequest("body", "want the members to change, as a JSON object"))
	}
	for _, fixed := range []string{"id", "type", "status"} {
		if _, ok := fields[fixed]; ok {
			return sendProblem(c, ngsild.BadRequest(fixed, "cannot be changed"))
		}
	}
	secrets := map[string]string{} // receiverInfo as stored: read back as ***, sent back as such
	for _, kv := range sub.Notification.Endpoint.ReceiverInfo {
		secrets[kv.Key] = kv.Value
	}
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sub); err != nil {
		return sendProblem(c, ngsild.BadRequest("body", err.Error()))
	}
	for i, kv := range sub.Notification.Endpoint.ReceiverInfo {
		if old, ok := secrets[kv.Key]; ok && kv.Value == ngsild.RedactedValue {
			sub.Notification.Endpoint.ReceiverInfo[i].Value = old
		}
	}
	if prob := outOfScope(ngsildScope(principal(c)), &sub); prob != nil {
		return sendProblem(c, prob)
	}
	if err := sub.Check(time.Now(), endpointAllowed(s.opts.Sharing.Config.NotifyTo)); err != nil {
		return sendNGSILDError(c, err)
	}
	if _, err := sub.Compile(); err != nil {
		return sendNGSILDError(c, err)
	}
	if err := s.putSubscription(c, st.row, &sub); err != nil {
		return err
	}
	changed := slices.Sorted(maps.Keys(fields)) // the members, not their values (receiverInfo holds tokens)
	s.audit(principal(c), "ngsild.subscription.update", sub.ID, strings.Join(changed, ","), fiber.StatusNoContent, c.IP())
	return c.SendStatus(fiber.StatusNoContent)
}

// unsubscribe answers DELETE /ngsi-ld/v1/subscriptions/{id}.
func (s *Server) unsubscribe(c *fiber.Ctx) error {
	st, err := s.findSubscription(c)
	if st == nil {
		return err
	}
	row := st.row
	row.Deleted = true
	if err := s.opts.Sharing.Store.PutSubscription(c.UserContext(), row); err != nil {
		return err
	}
	if s.notifier != nil {
		s.notifier.Nudge()
	}
	s.audit(principal(c), "ngsild.unsubscribe", st.sub.ID, "", fiber.StatusNoContent, c.IP())
	return c.SendStatus(fiber.StatusNoContent)
}

// newNotifier builds the notifier of sh: it hears the live city as the API's entities.
func (s *Server) newNotifier(sh *Sharing) *notify.Notifier {
	var inline map[string]any
	_ = json.Unmarshal(ngsild.Context, &inline) // embedded and checked by the tests
	o := notify.Options{
		Entities:   func(types ...string) []ngsild.Entity { return ngsild.Entities(s.ngsildSnapshot(), types...) },
		Version:    s.cityVersion,
		Targets:    s.sharingTargets,
		Through:    sh.Store.Through,
		Log:        sh.Store.AppendDeliveries,
		ContextURL: sh.ContextURL, PushContext: inline["@context"], Attempts: sh.Config.Attempts, Timeout: sh.Config.Timeout,
		Clock: s.opts.Clock, Registerer: s.opts.Registerer, Logger: s.log.With("component", "ngsild_notify"), Tick: sh.Tick,
	}
	if sh.RetryAfter > 0 {
		o.Retry = backoff.Backoff{Initial: sh.RetryAfter, Max: time.Minute}
	}
	if s.src.Leader != nil {
		o.Leads = func() bool { _, local, _ := s.src.Leader.Leader(); return local }
	}
	return notify.New(o)
}

// RunSharing delivers the NGSI-LD subscriptions' notifications and the pushes until ctx ends
// (at once nil without Options.Sharing).
func (s *Server) RunSharing(ctx context.Context) error {
	if s.notifier == nil {
		return nil
	}
	return s.notifier.Run(ctx)
}

// sharingTargets are the stored subscriptions whose owners may still read the API, and the
// configured pushes.
func (s *Server) sharingTargets(ctx context.Context) ([]notify.Target, error) {
	sh := s.opts.Sharing
	subs, err := s.storedSubscriptions(ctx, func(r analytics.SubscriptionRow) bool { return s.ownerMayShare(r.Owner) })
	if err != nil {
		return nil, err
	}
	var out []notify.Target
	for _, st := range subs {
		r, sub := st.row, st.sub
		var scope subscriptionScope
		if err := json.Unmarshal([]byte(r.Scope), &scope); err != nil {
			s.log.Error("a stored NGSI-LD subscription's scope does not decode; not delivered", "id", r.ID, "err", err)
			continue
		}
		f, err := sub.Compile()
		if err != nil {
			s.log.Error("a stored NGSI-LD subscription does not compile; not delivered", "id", r.ID, "err", err)
			continue
		}
		headers := map[string]string{}
		for _, kv := range sub.Notification.Endpoint.ReceiverInfo {
			headers[kv.Key] = kv.Value
		}
		out = append(out, notify.Target{ID: r.ID, Kind: notify.KindSubscription, Owner: r.Owner, Version: r.Doc + r.Scope, Filter: f,
			Scope: ngsild.Scope{Types: scope.Types, Districts: scope.Districts}, URL: sub.Notification.Endpoint.URI,
			LD: sub.Notification.Endpoint.Accept == "application/ld+json", Headers: headers,
			Throttle: seconds(sub.Throttling), Interval: seconds(sub.TimeInterval), Expires: sub.Expires(), Paused: !sub.Active(), Batch: 100})
	}
	getenv := sh.Getenv
	for _, ps := range sh.Config.Push {
		headers := map[string]string{}
		if ps.TokenEnv != "" {
			headers["Authorization"] = "Bearer " + getenv(ps.TokenEnv)
		}
		if ps.Tenant != "" {
			headers["NGSILD-Tenant"] = ps.Tenant
		}
		batch := ps.Batch
		if batch == 0 {
			batch = 100
		}
		out = append(out, notify.Target{ID: "push:" + ps.Name, Kind: notify.KindPush, Owner: "config", Version: "config",
			Filter: ngsild.NewFilter(ps.Types), Scope: ngsild.Scope{Districts: ps.Districts},
			URL: strings.TrimRight(ps.URL, "/") + notify.UpsertPath, Headers: headers, Throttle: ps.Every, Batch: batch})
	}
	return out, nil
}

// cityVersion moves whenever the live city changes.
func (s *Server) cityVersion() uint64 {
	if s.src.City == nil {
		return 0
	}
	return s.src.City.Hub().Version()
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// ownerMayShare tells whether a subscription's owner may still read the API: an API key that
// is active and of a role that shares (a JWT's subject is trusted until its subscriptions are
// deleted).
func (s *Server) ownerMayShare(owner string) bool {
	id, isKey := strings.CutPrefix(owner, "key:")
	if !isKey || s.auth == nil {
		return true
	}
	k, ok := s.auth.Lookup(id)
	return ok && k.Status(time.Now()) == "active" && (&auth.Principal{Role: k.Role}).Can(auth.Share)
}

// SharingTarget is a subscription or a push as the operators see it: whose, where to, and how
// its deliveries went.
type SharingTarget struct {
	ID   string `json:"id"`
	Kind string `json:"kind"` // subscription or push
	// Owner is the key or caller that made a subscription (config for a push), OwnerName its
	// holder's name.
	Owner     string `json:"owner"`
	OwnerName string `json:"owner_name,omitempty"`
	Name      string `json:"name,omitempty"`
	// Endpoint is where the deliveries go, without its query (which may hold a token).
	Endpoint string `json:"endpoint"`
	// Status is active, paused or expired.
	Status      string    `json:"status"`
	Sent        int       `json:"sent"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastFailure time.Time `json:"last_failure,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	// Failing: the last attempt failed.
	Failing bool `json:"failing"`
}

// listSharing answers GET /api/v1/sharing: every subscription and push with its deliveries'
// account, for the health page.
func (s *Server) listSharing(c *fiber.Ctx, _ *auth.Principal) error {
	sh := s.opts.Sharing
	if sh == nil {
		return errUnavailable
	}
	subs, err := s.storedSubscriptions(c.UserContext(), nil)
	if err != nil {
		return err
	}
	var out []SharingTarget
	for _, st := range subs {
		r, sub := st.row, st.sub
		t := SharingTarget{ID: r.ID, Kind: notify.KindSubscription, Owner: r.Owner, Name: sub.Name, Endpoint: withoutQuery(sub.Notification.Endpoint.URI),
			Status: sub.State(time.Now())}
		if id, ok := strings.CutPrefix(r.Owner, "key:"); ok && s.auth != nil {
			if k, ok := s.auth.Lookup(id); ok {
				t.OwnerName = k.Name
			}
		}
		out = append(out, t)
	}
	for _, ps := range sh.Config.Push {
		out = append(out, SharingTarget{ID: "push:" + ps.Name, Kind: notify.KindPush, Owner: "config", Name: ps.Name,
			Endpoint: withoutQuery(strings.TrimRight(ps.URL, "/") + notify.UpsertPath), Status: "active"})
	}
	ids := make([]string, len(out))
	for i := range out {
		ids[i] = out[i].ID
	}
	stats, err := sh.Store.DeliveryStats(c.UserContext(), ids)
	if err != nil {
		return err
	}
	for i := range out {
		st := stats[out[i].ID]
		out[i].Sent, out[i].LastSuccess, out[i].LastFailure, out[i].LastError = st.Sent, st.LastSuccess, st.LastFailure, st.LastError
		out[i].Failing = st.LastFailure.After(st.LastSuccess)
	}
	if out == nil {
		out = []SharingTarget{}
	}
	return c.JSON(out)
}

// withoutQuery is a URL without its credentials, query and fragment.
func withoutQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return httpsend.Address(u)
}
