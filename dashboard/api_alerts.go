package dashboard

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/dashboard/auth"
)

// AlertService is what the API asks of the alert engine (alerts.Engine).
type AlertService interface {
	Alerts(ctx context.Context, f alerts.Filter) ([]alerts.Alert, error)
	Acknowledge(ctx context.Context, id, actor, note string) (alerts.Alert, error)
	Assign(ctx context.Context, id, actor, assignee string) (alerts.Alert, error)
	Comment(ctx context.Context, id, actor, text string) (alerts.Alert, error)
	Resolve(ctx context.Context, id, actor, reason string) (alerts.Alert, error)
	// Reject closes a citizen report's alert as refused (its reports rejected).
	Reject(ctx context.Context, id, actor, reason string) (alerts.Alert, error)
	Silence(ctx context.Context, s alerts.Silence) (alerts.Silence, error)
	ExpireSilence(ctx context.Context, id, actor string) error
	Silences(ctx context.Context) ([]alerts.Silence, error)
	Rules(ctx context.Context) ([]alerts.Rule, error)
}

// AlertHistory reads an alert's stored events (alerts.ClickHouseStore).
type AlertHistory interface {
	History(ctx context.Context, alertID string) ([]alerts.Event, error)
	// Deliveries are the attempts to deliver the alert's notifications (alert_notifications).
	Deliveries(ctx context.Context, alertIDs ...string) ([]alerts.Attempt, error)
}

func (s *Server) listChannels(c *fiber.Ctx, _ *auth.Principal) error {
	if s.src.Channels == nil {
		return errUnavailable
	}
	return c.JSON(s.src.Channels.Channels())
}

// Delivery is one attempt to deliver a notification of the alert to a unit's receiver: the
// receipt the operators and the unit see.
type Delivery struct {
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"`
	Unit     string    `json:"unit"`
	Receiver string    `json:"receiver"`
	// Channel is webhook, email or gateway (SMS, Zalo).
	Channel string `json:"channel"`
	Attempt int    `json:"attempt"`
	// Status is ok, retry (failed, tried again), failed (gave up) or dropped (queue full).
	Status     string  `json:"status"`
	Error      string  `json:"error,omitempty"`
	DurationMS float64 `json:"duration_ms"`
}

// deliveries are the alert's delivery attempts p may see: a unit sees those to its units only.
func (s *Server) deliveries(ctx context.Context, p *auth.Principal, alertID string) ([]Delivery, error) {
	as, err := s.src.AlertHistory.Deliveries(ctx, alertID)
	if err != nil {
		return nil, err
	}
	out := []Delivery{}
	for _, a := range as {
		if !p.SeesAll() && !slices.Contains(p.Units, a.Unit) {
			continue
		}
		out = append(out, Delivery{Time: a.Time, Kind: string(a.Kind), Unit: a.Unit, Receiver: a.Receiver, Channel: a.Type,
			Attempt: a.Number, Status: a.Status, Error: a.Error, DurationMS: float64(a.Duration.Microseconds()) / 1000})
	}
	return out, nil
}

// actor names the caller in alert events and silences: name and stable id.
func actor(p *auth.Principal) string { return p.Name + " <" + p.ID + ">" }

var alertSorters = map[string]func(a, b alerts.Alert) int{
	"starts_at":  func(a, b alerts.Alert) int { return a.StartsAt.Compare(b.StartsAt) },
	"updated_at": func(a, b alerts.Alert) int { return a.UpdatedAt.Compare(b.UpdatedAt) },
	"severity":   func(a, b alerts.Alert) int { return cmp.Compare(a.Severity.Rank(), b.Severity.Rank()) },
	"district":   func(a, b alerts.Alert) int { return strings.Compare(a.District, b.District) },
	"state":      func(a, b alerts.Alert) int { return strings.Compare(string(a.State), string(b.State)) },
}

var alertListParams = withPaging(
	param{name: "state", typ: "list", desc: "pending, firing, acknowledged (comma-separated)"},
	param{name: "severity", typ: "list", desc: "informational, low, medium, high, critical (comma-separated)"},
	param{name: "category", typ: "string", desc: "Smart Data Models Alert category"},
	param{name: "district", typ: "string", desc: "district name as in the catalog"},
	param{name: "unit", typ: "string", desc: "only alerts routed to this unit"},
	param{name: "source", typ: "string", desc: "sensor, camera or district", enum: []string{alerts.SourceSensor, alerts.SourceCamera, alerts.SourceDistrict}},
)

func (s *Server) listAlerts(c *fiber.Ctx, p *auth.Principal) error {
	if s.src.Alerts == nil {
		return errUnavailable
	}
	f := alerts.Filter{Category: c.Query("category"), District: c.Query("district")}
	for _, st := range queryList(c, "state") {
		if st := alerts.State(st); st == alerts.StatePending || st.Active() {
			f.States = append(f.States, st)
		} else {
			return errBadRequest("bad_parameter", "state: want pending, firing or acknowledged (live alerts)")
		}
	}
	for _, sv := range queryList(c, "severity") {
		if alerts.Severity(sv).Rank() < 0 {
			return errBadRequest("bad_parameter", "severity: want informational, low, medium, high or critical")
		}
		f.Severity = append(f.Severity, alerts.Severity(sv))
	}
	source, err := queryEnum(c, "source", alerts.SourceSensor, alerts.SourceCamera, alerts.SourceDistrict)
	if err != nil {
		return err
	}
	if u := c.Query("unit"); u != "" {
		f.Units = []string{u}
	}
	list, err := s.src.Alerts.Alerts(c.UserContext(), f)
	if err != nil {
		return err
	}
	list = slices.DeleteFunc(list, func(a alerts.Alert) bool { return !p.Sees(a.Units) || (source != "" && a.Source != source) })
	return sendPage(c, list, alertSorters, "-starts_at")
}

// AlertDetail is an alert with its history.
type AlertDetail struct {
	Alert  alerts.Alert   `json:"alert"`
	Events []alerts.Event `json:"events"`
	// CAPDraft is the alert's public warning waiting for approval, if any.
	CAPDraft *alerts.CAPDraft `json:"cap_draft,omitempty"`
	// Deliveries are the receipts of its notifications, oldest first.
	Deliveries []Delivery `json:"deliveries"`
}

// findAlert returns the alert id as the caller may see it: live from the engine, or as its
// last stored event left it; errNotFound when it does not exist or the caller may not see it.
func (s *Server) findAlert(ctx context.Context, p *auth.Principal, id string) (*alerts.Alert, error) {
	if s.src.Alerts == nil {
		return nil, errUnavailable
	}
	live, err := s.src.Alerts.Alerts(ctx, alerts.Filter{})
	if err != nil {
		return nil, err
	}
	for i := range live {
		if live[i].ID == id {
			if !p.Sees(live[i].Units) {
				return nil, errNotFound // a unit does not learn that others' alerts exist
			}
			return &live[i], nil
		}
	}
	return nil, errNotFound
}

func (s *Server) getAlert(c *fiber.Ctx, p *auth.Principal) error {
	if s.src.AlertHistory == nil {
		return errUnavailable
	}
	id := c.Params("id")
	a, err := s.findAlert(c.UserContext(), p, id)
	if err != nil && !errors.Is(err, errNotFound) {
		return err
	}
	events, herr := s.src.AlertHistory.History(c.UserContext(), id)
	if herr != nil {
		return herr
	}
	if a == nil { // resolved: as its last event left it
		if len(events) == 0 || !p.Sees(events[len(events)-1].Alert.Units) {
			return errNotFound
		}
		a = &events[len(events)-1].Alert
	}
	if events == nil {
		events = []alerts.Event{}
	}
	ds, err := s.deliveries(c.UserContext(), p, id)
	if err != nil {
		return err
	}
	detail := AlertDetail{Alert: *a, Events: events, Deliveries: ds}
	if s.src.Warnings != nil {
		if d, ok := s.src.Warnings.DraftOf(a.ID); ok {
			detail.CAPDraft = &d
		}
	}
	return c.JSON(detail)
}

// Bodies of the alert actions.
type (
	// AckBody acknowledges an alert; the note is optional.
	AckBody struct {
		Note string `json:"note"`
	}
	// AssignBody gives an alert to a person.
	AssignBody struct {
		Assignee string `json:"assignee"`
	}
	// CommentBody adds a comment.
	CommentBody struct {
		Text string `json:"text"`
	}
	// ResolveBody closes an alert by hand; the reason is required.
	ResolveBody struct {
		Reason string `json:"reason"`
	}
)

// actionText decodes an action's body and answers its text (text reads it from body), trimmed
// and kept in the audit log; required names the field when the text is required.
func actionText(c *fiber.Ctx, body any, required string, text func() string) (string, error) {
	if err := decodeBody(c, body); err != nil {
		return "", err
	}
	t := strings.TrimSpace(text())
	if required != "" && t == "" {
		return "", errMissingField(required)
	}
	if len(t) > 4000 {
		return "", errBadRequest("too_long", "at most 4000 bytes of text")
	}
	noteAudit(c, t)
	return t, nil
}

// act runs one alert action for the caller on an alert it sees. required names the body's
// field that text reads when the action needs it ("" when it is optional): without it the
// answer is 400 naming the field.
func (s *Server) act(c *fiber.Ctx, p *auth.Principal, body any, required string, text func() string, do func(ctx context.Context, id, actor, text string) (alerts.Alert, error)) error {
	t, err := actionText(c, body, required, text)
	if err != nil {
		return err
	}
	a, err := s.alertAction(c, p, c.Params("id"), t, do, "cảnh báo", "alert")
	if err != nil {
		return err
	}
	return c.JSON(a)
}

// alertAction runs do with text on the live alert id if p sees it, the engine's refusals
// answered as such; whatVI and whatEN name what was acted on in the refusal (cảnh báo, alert).
func (s *Server) alertAction(c *fiber.Ctx, p *auth.Principal, id, text string, do func(ctx context.Context, id, actor, text string) (alerts.Alert, error), whatVI, whatEN string) (alerts.Alert, error) {
	if _, err := s.findAlert(c.UserContext(), p, id); err != nil {
		return alerts.Alert{}, err
	}
	a, err := do(c.UserContext(), id, actor(p), text)
	switch {
	case errors.Is(err, alerts.ErrNotFound):
		return a, errNotFound
	case errors.Is(err, alerts.ErrInvalid):
		return a, &apiError{Status: fiber.StatusConflict, Code: "refused", MessageVI: "Không thực hiện được với " + whatVI + " ở trạng thái này",
			MessageEN: "not possible for the " + whatEN + " as it is", Detail: err.Error()}
	}
	return a, err
}

func (s *Server) ackAlert(c *fiber.Ctx, p *auth.Principal) error {
	if s.src.Alerts == nil {
		return errUnavailable
	}
	var b AckBody
	return s.act(c, p, &b, "", func() string { return b.Note }, s.src.Alerts.Acknowledge)
}

func (s *Server) assignAlert(c *fiber.Ctx, p *auth.Principal) error {
	if s.src.Alerts == nil {
		return errUnavailable
	}
	var b AssignBody
	return s.act(c, p, &b, "assignee", func() string { return b.Assignee }, s.src.Alerts.Assign)
}

func (s *Server) commentAlert(c *fiber.Ctx, p *auth.Principal) error {
	if s.src.Alerts == nil {
		return errUnavailable
	}
	var b CommentBody
	return s.act(c, p, &b, "text", func() string { return b.Text }, s.src.Alerts.Comment)
}

func (s *Server) resolveAlert(c *fiber.Ctx, p *auth.Principal) error {
	if s.src.Alerts == nil {
		return errUnavailable
	}
	var b ResolveBody
	return s.act(c, p, &b, "reason", func() string { return b.Reason }, s.src.Alerts.Resolve)
}

var silenceSorters = map[string]func(a, b alerts.Silence) int{
	"starts_at": func(a, b alerts.Silence) int { return a.StartsAt.Compare(b.StartsAt) },
	"ends_at":   func(a, b alerts.Silence) int { return a.EndsAt.Compare(b.EndsAt) },
}

func (s *Server) listSilences(c *fiber.Ctx, _ *auth.Principal) error {
	if s.src.Alerts == nil {
		return errUnavailable
	}
	list, err := s.src.Alerts.Silences(c.UserContext())
	if err != nil {
		return err
	}
	return sendPage(c, list, silenceSorters, "starts_at")
}

// SilenceBody creates a silence: matchers on alert labels (rule, source, subject, severity,
// category, district, …), when it ends (and starts, default now), and why.
type SilenceBody struct {
	Matchers alerts.Matchers `json:"matchers"`
	StartsAt time.Time       `json:"starts_at"`
	EndsAt   time.Time       `json:"ends_at"`
	Reason   string          `json:"reason"`
}

func (s *Server) createSilence(c *fiber.Ctx, p *auth.Principal) error {
	if s.src.Alerts == nil {
		return errUnavailable
	}
	var b SilenceBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	noteAudit(c, b.Reason)
	sil, err := s.src.Alerts.Silence(c.UserContext(), alerts.Silence{Matchers: b.Matchers, StartsAt: b.StartsAt.UTC(), EndsAt: b.EndsAt.UTC(), Author: actor(p), Reason: b.Reason})
	if errors.Is(err, alerts.ErrInvalid) {
		return errBadRequest("bad_silence", err.Error())
	}
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(sil)
}

func (s *Server) expireSilence(c *fiber.Ctx, p *auth.Principal) error {
	if s.src.Alerts == nil {
		return errUnavailable
	}
	err := s.src.Alerts.ExpireSilence(c.UserContext(), c.Params("id"), actor(p))
	if errors.Is(err, alerts.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// RuleInfo is a rule as the API shows it.
type RuleInfo struct {
	Name        string          `json:"name"`
	Kind        string          `json:"kind"`
	Metric      string          `json:"metric,omitempty"`
	Severity    alerts.Severity `json:"severity,omitempty"`
	Category    string          `json:"category"`
	SubCategory string          `json:"sub_category,omitempty"`
	Public      bool            `json:"public"`
	ForSeconds  float64         `json:"for_seconds,omitempty"`
	Title       alerts.Text     `json:"title"`
}

func (s *Server) listRules(c *fiber.Ctx, _ *auth.Principal) error {
	if s.src.Alerts == nil {
		return errUnavailable
	}
	rules, err := s.src.Alerts.Rules(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]RuleInfo, len(rules))
	for i, r := range rules {
		out[i] = RuleInfo{Name: r.Name, Kind: r.Kind, Metric: r.Metric, Severity: r.Severity, Category: r.Category,
			SubCategory: r.SubCategory, Public: r.Public, ForSeconds: r.For.Seconds(), Title: r.Title}
	}
	return sendPage(c, out, map[string]func(a, b RuleInfo) int{
		"name": func(a, b RuleInfo) int { return strings.Compare(a.Name, b.Name) },
		"kind": func(a, b RuleInfo) int { return strings.Compare(a.Kind, b.Kind) },
	}, "name")
}

// ReloadAnswer says that the rules were reloaded.
type ReloadAnswer struct {
	Reloaded bool `json:"reloaded"`
	Rules    int  `json:"rules"`
}

func (s *Server) reloadRules(c *fiber.Ctx, _ *auth.Principal) error {
	if s.src.ReloadRules == nil || s.src.Alerts == nil {
		return errUnavailable
	}
	if err := s.src.ReloadRules(c.UserContext()); err != nil {
		noteAudit(c, "refused")
		return &apiError{Status: fiber.StatusUnprocessableEntity, Code: "bad_rules", MessageVI: "Tệp luật có lỗi; các luật đang chạy được giữ nguyên", MessageEN: "the rule file has errors; the rules in force stay", Detail: err.Error()}
	}
	rules, err := s.src.Alerts.Rules(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(ReloadAnswer{Reloaded: true, Rules: len(rules)})
}
