package dashboard

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/alerts/incident"
	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard/auth"
)

// IncidentService is what the API asks of the incident manager (incident.Manager).
type IncidentService interface {
	Current(ctx context.Context) ([]incident.Incident, error)
	Get(ctx context.Context, id string) (incident.Incident, []incident.Entry, error)
	Take(ctx context.Context, id string, by incident.Person) (incident.Incident, error)
	SetState(ctx context.Context, id string, to incident.State, note string, by incident.Person) (incident.Incident, error)
	Note(ctx context.Context, id, text string, by incident.Person) (incident.Incident, error)
	Done(ctx context.Context, id, step, note string, by incident.Person) (incident.Incident, error)
	Search(ctx context.Context, q incident.Search) ([]incident.Incident, int, error)
	File() *incident.File
}

// IncidentRules are the correlations and response procedures in force, as the admin screen
// lists them.
type IncidentRules struct {
	Correlations []CorrelationInfo `json:"correlations"`
	Procedures   []ProcedureInfo   `json:"procedures"`
	Escalate     []string          `json:"escalate"`
}

// CorrelationInfo is one correlation: the alerts it matches, the labels that must be equal,
// its window.
type CorrelationInfo struct {
	Name   string              `json:"name"`
	Type   string              `json:"type"`
	Title  alerts.Text         `json:"title"`
	Match  map[string][]string `json:"match"`
	By     []string            `json:"by"`
	Window string              `json:"window"`
}

// ProcedureInfo is one response procedure and its steps.
type ProcedureInfo struct {
	Type     string          `json:"type"`
	Severity alerts.Severity `json:"severity"`
	Title    alerts.Text     `json:"title"`
	Steps    []StepInfo      `json:"steps"`
}

// StepInfo is one step of a procedure: what, which unit, by when after the start.
type StepInfo struct {
	ID       string      `json:"id"`
	Text     alerts.Text `json:"text"`
	Unit     string      `json:"unit"`
	Deadline string      `json:"deadline"`
}

func (s *Server) incidentRules(c *fiber.Ctx, _ *auth.Principal) error {
	if s.src.Incidents == nil {
		return errUnavailable
	}
	f := s.src.Incidents.File()
	out := IncidentRules{Correlations: []CorrelationInfo{}, Procedures: []ProcedureInfo{}, Escalate: orEmpty(f.Escalate)}
	for _, cr := range f.Correlations {
		out.Correlations = append(out.Correlations, CorrelationInfo{Name: cr.Name, Type: cr.Type, Title: cr.Title, Match: cr.Match, By: cr.By, Window: cr.Window.String()})
	}
	for _, pr := range f.Procedures {
		p := ProcedureInfo{Type: pr.Type, Severity: pr.Severity, Title: pr.Title, Steps: []StepInfo{}}
		for _, st := range pr.Steps {
			p.Steps = append(p.Steps, StepInfo{ID: st.ID, Text: st.Text, Unit: st.Unit, Deadline: st.Deadline.String()})
		}
		out.Procedures = append(out.Procedures, p)
	}
	return c.JSON(out)
}

// IncidentDetail is an incident with its timeline (alerts, actions, notes, notifications).
type IncidentDetail struct {
	Incident incident.Incident `json:"incident"`
	Timeline []incident.Entry  `json:"timeline"`
}

// IncidentStateBody moves an incident; closing takes a summary in note.
type IncidentStateBody struct {
	State incident.State `json:"state"`
	Note  string         `json:"note"`
}

// IncidentNoteBody is a note for an incident's timeline.
type IncidentNoteBody struct {
	Text string `json:"text"`
}

// StepBody ticks a step, with an optional note.
type StepBody struct {
	Note string `json:"note"`
}

var incidentStates = []string{string(incident.StateNew), string(incident.StateInProgress), string(incident.StateContained), string(incident.StateClosed)}

var incidentListParams = withPaging(
	param{name: "state", typ: "list", desc: "new, in_progress, contained, closed (comma-separated; closed ones stay listed a day)"},
	param{name: "severity", typ: "list", desc: "informational, low, medium, high, critical (comma-separated)"},
	param{name: "district", typ: "string", desc: "only incidents touching this district"},
	param{name: "unit", typ: "string", desc: "only incidents of this unit"},
)

var incidentHistoryParams = append(slices.DeleteFunc(slices.Clone(historyParams), func(p param) bool { return p.name == "state" }),
	param{name: "state", typ: "string", desc: "only incidents left in this state", enum: incidentStates},
	param{name: "type", typ: "string", desc: "only this incident type (flood, landslide, saltwater, fire, traffic_jam, …)"})

var incidentSorters = map[string]func(a, b incident.Incident) int{
	"opened":   func(a, b incident.Incident) int { return a.Opened.Compare(b.Opened) },
	"updated":  func(a, b incident.Incident) int { return a.Updated.Compare(b.Updated) },
	"severity": func(a, b incident.Incident) int { return cmp.Compare(a.Severity.Rank(), b.Severity.Rank()) },
	"state": func(a, b incident.Incident) int {
		return cmp.Compare(slices.Index(incident.States, a.State), slices.Index(incident.States, b.State))
	},
}

func incidentPerson(p *auth.Principal) incident.Person {
	by := incident.Person{ID: p.ID, Name: p.Name}
	if !p.SeesAll() {
		by.Units = slices.Clone(p.Units)
	}
	return by
}

// incidentError answers the incident manager's refusals.
func incidentError(err error) error {
	switch {
	case errors.Is(err, incident.ErrInvalid):
		return errBadRequest("bad_incident", err.Error())
	case errors.Is(err, incident.ErrNotFound):
		return errNotFound
	case errors.Is(err, incident.ErrForbidden):
		return &apiError{Status: fiber.StatusForbidden, Code: "forbidden", MessageVI: "Không được phép: việc này không thuộc đơn vị của bạn",
			MessageEN: "not allowed for your unit", Detail: err.Error()}
	case errors.Is(err, incident.ErrConflict):
		return &apiError{Status: fiber.StatusConflict, Code: "refused", MessageVI: "Không thực hiện được: sự cố đang ở trạng thái khác",
			MessageEN: "not possible as the incident stands", Detail: err.Error()}
	case errors.Is(err, alerts.ErrStandby):
		return errNoLeader
	}
	return err
}

// visibleIncident is inc as p may see it, false when p may not: a unit sees the incidents of
// its units, and of them only its own alerts and steps.
func visibleIncident(p *auth.Principal, inc incident.Incident) (incident.Incident, bool) {
	if p.SeesAll() {
		return inc, true
	}
	if !p.Sees(inc.Units) {
		return incident.Incident{}, false
	}
	inc.Alerts = slices.DeleteFunc(inc.Alerts, func(a incident.AlertRef) bool { return !p.Sees(a.Units) })
	inc.Steps = slices.DeleteFunc(inc.Steps, func(s incident.Step) bool { return !slices.Contains(p.Units, s.Unit) })
	return inc, true
}

// visibleEntries are the timeline entries p may read: a unit's alerts', its steps' and the
// incident's own, without the other units' alerts and steps.
func visibleEntries(p *auth.Principal, inc incident.Incident, line []incident.Entry) []incident.Entry {
	if p.SeesAll() {
		return line
	}
	alertIDs := map[string]bool{inc.ID: true}
	for _, a := range inc.Alerts {
		alertIDs[a.ID] = true
	}
	stepIDs := map[string]bool{}
	for _, s := range inc.Steps {
		stepIDs[s.ID] = true
	}
	return slices.DeleteFunc(slices.Clone(line), func(e incident.Entry) bool {
		return (e.AlertID != "" && !alertIDs[e.AlertID]) || (e.Step != "" && !stepIDs[e.Step]) ||
			(e.Kind == incident.KindNotification && !slices.Contains(p.Units, e.Unit))
	})
}

func (s *Server) listIncidents(c *fiber.Ctx, p *auth.Principal) error {
	if s.src.Incidents == nil {
		return errUnavailable
	}
	states := queryList(c, "state")
	for _, st := range states {
		if !slices.Contains(incidentStates, st) {
			return errBadRequest("bad_parameter", "state: want new, in_progress, contained or closed")
		}
	}
	sevs := queryList(c, "severity")
	for _, sv := range sevs {
		if alerts.Severity(sv).Rank() < 0 {
			return errBadRequest("bad_parameter", "severity: want informational, low, medium, high or critical")
		}
	}
	list, err := s.src.Incidents.Current(c.UserContext())
	if err != nil {
		return incidentError(err)
	}
	district, unit := c.Query("district"), c.Query("unit")
	out := []incident.Incident{}
	for _, inc := range list {
		inc, ok := visibleIncident(p, inc)
		if !ok || (len(states) > 0 && !slices.Contains(states, string(inc.State))) || (len(sevs) > 0 && !slices.Contains(sevs, string(inc.Severity))) ||
			(district != "" && !slices.Contains(inc.Districts, district)) || (unit != "" && !slices.Contains(inc.Units, unit)) {
			continue
		}
		out = append(out, inc)
	}
	return sendPage(c, out, incidentSorters, "-opened")
}

// incidentFor returns the incident id and its timeline as p may see them; 404 when p may not.
func (s *Server) incidentFor(ctx context.Context, p *auth.Principal, id string) (incident.Incident, []incident.Entry, error) {
	if s.src.Incidents == nil {
		return incident.Incident{}, nil, errUnavailable
	}
	inc, line, err := s.src.Incidents.Get(ctx, id)
	if err != nil {
		return incident.Incident{}, nil, incidentError(err)
	}
	seen, ok := visibleIncident(p, inc)
	if !ok {
		return incident.Incident{}, nil, errNotFound
	}
	return seen, visibleEntries(p, seen, line), nil
}

func (s *Server) getIncident(c *fiber.Ctx, p *auth.Principal) error {
	inc, line, err := s.incidentFor(c.UserContext(), p, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(IncidentDetail{Incident: inc, Timeline: orEmpty(line)})
}

// actOnIncident checks that p sees the incident, runs f, and answers the incident as p sees it.
func (s *Server) actOnIncident(c *fiber.Ctx, p *auth.Principal, f func(ctx context.Context, id string, by incident.Person) (incident.Incident, error)) error {
	id := c.Params("id")
	if _, _, err := s.incidentFor(c.UserContext(), p, id); err != nil {
		return err
	}
	inc, err := f(c.UserContext(), id, incidentPerson(p))
	if err != nil {
		return incidentError(err)
	}
	noteAudit(c, id)
	seen, _ := visibleIncident(p, inc)
	return c.JSON(seen)
}

func (s *Server) takeIncident(c *fiber.Ctx, p *auth.Principal) error {
	return s.actOnIncident(c, p, s.src.Incidents.Take)
}

func (s *Server) setIncidentState(c *fiber.Ctx, p *auth.Principal) error {
	var b IncidentStateBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	return s.actOnIncident(c, p, func(ctx context.Context, id string, by incident.Person) (incident.Incident, error) {
		return s.src.Incidents.SetState(ctx, id, b.State, b.Note, by)
	})
}

func (s *Server) noteIncident(c *fiber.Ctx, p *auth.Principal) error {
	var b IncidentNoteBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	return s.actOnIncident(c, p, func(ctx context.Context, id string, by incident.Person) (incident.Incident, error) {
		return s.src.Incidents.Note(ctx, id, b.Text, by)
	})
}

func (s *Server) tickStep(c *fiber.Ctx, p *auth.Principal) error {
	var b StepBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	step := c.Params("step")
	return s.actOnIncident(c, p, func(ctx context.Context, id string, by incident.Person) (incident.Incident, error) {
		return s.src.Incidents.Done(ctx, id, step, b.Note, by)
	})
}

// searchIncidents runs the request's search of the stored incidents.
func (s *Server) searchIncidents(c *fiber.Ctx, p *auth.Principal, limit, offset int) ([]incident.Incident, int, error) {
	if s.src.Incidents == nil {
		return nil, 0, errUnavailable
	}
	from, to, units, err := historyScope(c, p)
	if err != nil {
		return nil, 0, err
	}
	q := incident.Search{From: from, To: to, Units: units, District: c.Query("district"), Category: c.Query("category"),
		State: c.Query("state"), Type: c.Query("type"), Text: c.Query("q"), Limit: limit, Offset: offset}
	if q.State != "" && !slices.Contains(incidentStates, q.State) {
		return nil, 0, errBadRequest("bad_parameter", "state: want new, in_progress, contained or closed")
	}
	list, total, err := s.src.Incidents.Search(c.UserContext(), q)
	if err != nil {
		return nil, 0, incidentError(err)
	}
	out := make([]incident.Incident, 0, len(list))
	for _, inc := range list {
		if seen, ok := visibleIncident(p, inc); ok {
			out = append(out, seen)
		}
	}
	return out, total, nil
}

func (s *Server) incidentHistory(c *fiber.Ctx, p *auth.Principal) error {
	limit, offset, err := pageWindow(c)
	if err != nil {
		return err
	}
	items, total, err := s.searchIncidents(c, p, limit, offset)
	if err != nil {
		return err
	}
	return c.JSON(Page[incident.Incident]{Items: items, Total: total, Limit: limit, Offset: offset})
}

func (s *Server) exportIncidents(c *fiber.Ctx, p *auth.Principal) error {
	items, _, err := s.searchIncidents(c, p, maxHistoryRows, 0)
	if err != nil {
		return err
	}
	w := csvAnswer(c, "lich-su-su-co.csv")
	_ = w.Write([]string{"incident_id", "type", "title", "state", "severity", "districts", "units", "owner", "alerts", "steps", "steps_done", "opened", "closed", "summary"})
	for _, inc := range items {
		done := 0
		for _, st := range inc.Steps {
			if !st.Done.IsZero() {
				done++
			}
		}
		closed := ""
		if !inc.Closed.IsZero() {
			closed = inc.Closed.UTC().Format(time.RFC3339)
		}
		_ = w.Write([]string{inc.ID, inc.Type, inc.Title.VI, string(inc.State), string(inc.Severity), strings.Join(inc.Districts, "; "),
			strings.Join(inc.Units, "; "), inc.OwnerName, strconv.Itoa(len(inc.Alerts)), strconv.Itoa(len(inc.Steps)), strconv.Itoa(done),
			inc.Opened.UTC().Format(time.RFC3339), closed, inc.Summary})
	}
	w.Flush()
	return w.Error()
}

// incidentRefs are the incidents open now as a handover lists them.
func (s *Server) incidentRefs(ctx context.Context, now time.Time) ([]analytics.IncidentRef, error) {
	out := []analytics.IncidentRef{}
	if s.src.Incidents == nil {
		return out, nil
	}
	list, err := s.src.Incidents.Current(ctx)
	if err != nil {
		return nil, incidentError(err)
	}
	for _, inc := range list {
		if !inc.Active() {
			continue
		}
		r := analytics.IncidentRef{ID: inc.ID, Title: inc.Title.VI, TitleEN: inc.Title.EN, Severity: string(inc.Severity), State: string(inc.State),
			Owner: inc.OwnerName, Districts: inc.Districts, Opened: inc.Opened}
		for _, st := range inc.Steps {
			if st.Done.IsZero() {
				r.StepsOpen++
				if now.After(st.Due) {
					r.StepsOverdue++
				}
			}
		}
		out = append(out, r)
	}
	return out, nil
}
