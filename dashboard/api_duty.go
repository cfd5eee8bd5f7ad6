package dashboard

import (
	"errors"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/alerts/duty"
	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard/auth"
)

// dutyLogParams are the duty log's query parameters.
var dutyLogParams = []param{
	{name: "from", typ: "date-time", desc: "start (RFC 3339), default 24 hours ago"},
	{name: "to", typ: "date-time", desc: "end (RFC 3339, excluded), default now"},
	{name: "limit", typ: "integer", desc: "lines at most, 1-1000 (default 200), newest first"},
}

// DutyLogBody is a line for the duty log.
type DutyLogBody struct {
	Text string `json:"text"`
}

// HandoverBody hands the shift over, with notes for the next one.
type HandoverBody struct {
	Notes string `json:"notes"`
}

// AcceptBody accepts a handover, with an optional note.
type AcceptBody struct {
	Note string `json:"note"`
}

// HandoverScreen is what the handover screen shows: the handover waiting for its incoming
// officer (if any), the last accepted one, the alerts nobody has acknowledged now, and the duty
// log since the last accepted handover (at most the last 24 hours).
type HandoverScreen struct {
	Pending        *analytics.Handover  `json:"pending"`
	Last           *analytics.Handover  `json:"last"`
	Unacknowledged []analytics.AlertRef `json:"unacknowledged"`
	// Incidents are the incidents not closed, with their steps open and overdue.
	Incidents []analytics.IncidentRef `json:"incidents"`
	Log       []analytics.DutyEntry   `json:"log"`
}

func person(p *auth.Principal) duty.Person { return duty.Person{ID: p.ID, Name: p.Name} }

// dutyError answers the duty book's refusals.
func dutyError(err error) error {
	switch {
	case errors.Is(err, duty.ErrInvalid):
		return errBadRequest("bad_duty", err.Error())
	case errors.Is(err, duty.ErrNotFound):
		return errNotFound
	case errors.Is(err, duty.ErrConflict):
		return &apiError{Status: fiber.StatusConflict, Code: "refused", MessageVI: "Không thực hiện được: ca trực đang ở trạng thái khác",
			MessageEN: "not possible as the shift stands", Detail: err.Error()}
	}
	return err
}

func (s *Server) dutyLog(c *fiber.Ctx, _ *auth.Principal) error {
	if s.src.Duty == nil {
		return errUnavailable
	}
	now := time.Now().UTC()
	from, to, err := queryRange(c, now, 24*time.Hour)
	if err != nil {
		return err
	}
	limit := c.QueryInt("limit", 200)
	if limit < 1 || limit > 1000 {
		return errBadRequest("bad_limit", "limit: want 1 to 1000")
	}
	list, err := s.src.Duty.Entries(c.UserContext(), from, to, limit)
	if err != nil {
		return dutyError(err)
	}
	return c.JSON(orEmpty(list))
}

func (s *Server) writeDutyLog(c *fiber.Ctx, p *auth.Principal) error {
	if s.src.Duty == nil {
		return errUnavailable
	}
	var b DutyLogBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	e, err := s.src.Duty.Write(c.UserContext(), person(p), b.Text)
	if err != nil {
		return dutyError(err)
	}
	noteAudit(c, e.ID)
	return c.Status(fiber.StatusCreated).JSON(e)
}

func (s *Server) handoverScreen(c *fiber.Ctx, _ *auth.Principal) error {
	if s.src.Duty == nil {
		return errUnavailable
	}
	ctx := c.UserContext()
	hs, err := s.src.Duty.Handovers(ctx, 20)
	if err != nil {
		return err
	}
	var out HandoverScreen
	for i := range hs {
		switch {
		case hs[i].Accepted.IsZero() && out.Pending == nil:
			out.Pending = &hs[i]
		case !hs[i].Accepted.IsZero() && out.Last == nil:
			out.Last = &hs[i]
		}
	}
	if out.Unacknowledged, err = s.unacknowledged(c); err != nil {
		return err
	}
	now := time.Now().UTC()
	if out.Incidents, err = s.incidentRefs(ctx, now); err != nil {
		return err
	}
	since := now.Add(-24 * time.Hour)
	if out.Last != nil && out.Last.Accepted.After(since) {
		since = out.Last.Accepted
	}
	if out.Log, err = s.src.Duty.Entries(ctx, since, now.Add(time.Second), 1000); err != nil {
		return err
	}
	out.Log = orEmpty(out.Log)
	return c.JSON(out)
}

// unacknowledged lists the firing alerts nobody has acknowledged, most severe first (the duty
// routes' roles see every alert).
func (s *Server) unacknowledged(c *fiber.Ctx) ([]analytics.AlertRef, error) {
	out := []analytics.AlertRef{}
	if s.src.Alerts == nil {
		return out, nil
	}
	list, err := s.src.Alerts.Alerts(c.UserContext(), alerts.Filter{States: []alerts.State{alerts.StateFiring}})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(list, func(a, b alerts.Alert) int {
		if d := b.Severity.Rank() - a.Severity.Rank(); d != 0 {
			return d
		}
		return a.StartsAt.Compare(b.StartsAt)
	})
	for _, a := range list {
		out = append(out, analytics.AlertRef{ID: a.ID, Title: a.Title.VI, TitleEN: a.Title.EN, Severity: string(a.Severity),
			District: a.District, State: string(a.State), Since: a.StartsAt})
	}
	return out, nil
}

func (s *Server) handOver(c *fiber.Ctx, p *auth.Principal) error {
	if s.src.Duty == nil {
		return errUnavailable
	}
	var b HandoverBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	open, err := s.unacknowledged(c)
	if err != nil {
		return err
	}
	incidents, err := s.incidentRefs(c.UserContext(), time.Now().UTC())
	if err != nil {
		return err
	}
	h, err := s.src.Duty.HandOver(c.UserContext(), person(p), b.Notes, open, incidents)
	if err != nil {
		return dutyError(err)
	}
	noteAudit(c, h.ID)
	return c.Status(fiber.StatusCreated).JSON(h)
}

func (s *Server) acceptHandover(c *fiber.Ctx, p *auth.Principal) error {
	if s.src.Duty == nil {
		return errUnavailable
	}
	var b AcceptBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	noteAudit(c, c.Params("id"))
	h, err := s.src.Duty.Accept(c.UserContext(), c.Params("id"), person(p), b.Note)
	if err != nil {
		return dutyError(err)
	}
	return c.JSON(h)
}

var handoverSorters = map[string]func(a, b analytics.Handover) int{
	"created": func(a, b analytics.Handover) int { return a.Created.Compare(b.Created) },
}

func (s *Server) listHandovers(c *fiber.Ctx, _ *auth.Principal) error {
	if s.src.Duty == nil {
		return errUnavailable
	}
	hs, err := s.src.Duty.Handovers(c.UserContext(), 1000)
	if err != nil {
		return err
	}
	return sendPage(c, hs, handoverSorters, "-created")
}

// orEmpty answers an empty list as [] rather than null.
func orEmpty[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
