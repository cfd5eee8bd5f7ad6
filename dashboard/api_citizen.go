package dashboard

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/alerts/triage"
	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/ingest/citizen"
	"github.com/haidang-ioc/ioc/ingest/citizen/photos"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/geo"
	"github.com/haidang-ioc/ioc/streams"
)

// Citizen serves the citizen apps (their reports' intake and status by ticket) and the staff
// (the reports and their photos).
type Citizen struct {
	Photos  photos.Store
	Store   CitizenStore
	Reports CitizenReportSource
	// Stats counts the reports for the analysts (analytics.CitizenStore).
	Stats  CitizenStats
	Limits config.Citizen
	// Stored, when set, hears that a report was stored (triage.Tracker.Nudge: this process
	// routes it at once rather than at the next poll).
	Stored func()
}

// CitizenStats counts the reports by category, district or unit (analytics.CitizenStore).
type CitizenStats interface {
	ReportStats(ctx context.Context, from, to time.Time, by string, units []string) ([]analytics.ReportStat, error)
}

// CitizenStore keeps citizen reports (analytics.CitizenStore).
type CitizenStore interface {
	AppendCitizenEvents(ctx context.Context, evs []analytics.CitizenEvent) error
	ReportByClientKey(ctx context.Context, key string) (citizen.Report, error)
	ReportByTicket(ctx context.Context, ticket string) (citizen.Report, error)
	DeadLetter(ctx context.Context, r analytics.RefusedSubmission) error
}

// CitizenReceipt answers a submission: the ticket to follow it by.
type CitizenReceipt struct {
	Ticket   string    `json:"ticket"`
	State    string    `json:"state"`
	Received time.Time `json:"received"`
	// Duplicate says the app had sent this report already (the same client id): nothing new
	// was stored.
	Duplicate bool `json:"duplicate,omitempty"`
}

// CitizenStatus is what a citizen sees of a report by its ticket.
type CitizenStatus struct {
	Ticket   string    `json:"ticket"`
	Category string    `json:"category"`
	State    string    `json:"state"`
	Received time.Time `json:"received"`
	Answer   string    `json:"answer,omitempty"`
}

// devicePattern is an app's id of a device (an installation id): what the rate limit counts.
var devicePattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,128}$`)

// deviceLimiter counts each device's reports in a sliding window.
type deviceLimiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	sent   map[string][]time.Time
}

// allow records a report of key at now when the window has room; else it tells how long until
// it has.
func (l *deviceLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sent == nil {
		l.sent = map[string][]time.Time{}
	}
	if len(l.sent) > 100_000 { // forget the idle devices rather than grow without bound
		for k, ts := range l.sent {
			if now.Sub(ts[len(ts)-1]) >= l.window {
				delete(l.sent, k)
			}
		}
	}
	ts := l.sent[key]
	for len(ts) > 0 && now.Sub(ts[0]) >= l.window {
		ts = ts[1:]
	}
	if len(ts) >= l.limit {
		l.sent[key] = ts
		return false, l.window - now.Sub(ts[0])
	}
	l.sent[key] = append(ts, now)
	return true, 0
}

// citizenRefused is a submission refused: counted, kept in the dead letters with its reason,
// and answered 400 naming the field or photo.
func (s *Server) citizenRefused(c *fiber.Ctx, p *auth.Principal, device, reason, detail string, payload []byte) error {
	s.m.citizen.WithLabelValues("refused").Inc()
	if err := s.opts.Citizen.Store.DeadLetter(c.UserContext(), analytics.RefusedSubmission{Time: time.Now(), App: p.ID, Device: citizen.Hash([]byte(device))[:16],
		Reason: reason, Detail: detail, Payload: payload, Size: len(c.Body())}); err != nil {
		s.log.Warn("citizen report refused, and its dead letter not kept", "reason", reason, "err", err)
	}
	return &apiError{Status: fiber.StatusBadRequest, Code: reason, MessageVI: "Phản ánh không hợp lệ", MessageEN: "the report was refused", Detail: detail}
}

// submitCitizenReport takes a report from a citizen app: multipart/form-data with the part
// "report" (JSON) and 1 to 5 parts "photos" (JPEG or PNG), the device in X-Device-ID.
func (s *Server) submitCitizenReport(c *fiber.Ctx, p *auth.Principal) error {
	cz := s.opts.Citizen
	if cz == nil {
		return errUnavailable
	}
	device := c.Get("X-Device-ID")
	if !devicePattern.MatchString(device) {
		return s.citizenRefused(c, p, device, "bad_device", "X-Device-ID: want the app's id of the device, 8 to 128 letters, digits or . _ : -", nil)
	}
	now := s.opts.Clock().UTC() // a simulation's, when the province is simulated
	form, err := c.MultipartForm()
	if err != nil {
		return s.citizenRefused(c, p, device, "not_multipart", "want multipart/form-data with a part report (JSON) and parts photos", nil)
	}
	parts := form.Value["report"]
	if len(parts) != 1 {
		return s.citizenRefused(c, p, device, "bad_report", "want one part report (JSON)", nil)
	}
	raw := []byte(parts[0])
	var sub citizen.Submission
	dec := json.NewDecoder(strings.NewReader(parts[0]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sub); err != nil {
		return s.citizenRefused(c, p, device, "bad_report", "report: "+err.Error(), raw)
	}
	key := citizen.ClientKey(p.ID, device, sub.ClientID)
	if prev, err := cz.Store.ReportByClientKey(c.UserContext(), key); err == nil { // sent again: the same report
		s.m.citizen.WithLabelValues("duplicate").Inc()
		return c.Status(fiber.StatusOK).JSON(CitizenReceipt{Ticket: prev.Ticket, State: prev.State, Received: prev.Received, Duplicate: true})
	} else if !errors.Is(err, analytics.ErrNoReport) {
		return err
	}
	if ok, wait := s.citizenLimit.allow(p.ID+"\x00"+device, now); !ok {
		s.m.citizen.WithLabelValues("limited").Inc()
		c.Set(fiber.HeaderRetryAfter, fmt.Sprint(int(wait.Seconds())+1))
		return &apiError{Status: fiber.StatusTooManyRequests, Code: "device_limit", MessageVI: "Thiết bị đã gửi quá nhiều phản ánh, vui lòng thử lại sau",
			MessageEN: fmt.Sprintf("this device sent %d reports within %s: try again later", cz.Limits.DeviceLimit, cz.Limits.DeviceWindow)}
	}
	rules := citizen.Rules{Categories: citizen.CategoryIDs(), Now: now, MaxSkew: 10 * time.Minute}
	var sensors *ingest.Catalog // where reports are placed, and the cameras near them
	var cams *streams.CameraCatalog
	if s.src.City != nil {
		sensors, cams = s.src.City.Catalogs()
	}
	// without outlines, a report cannot be placed in a district: taken wherever in Vietnam
	if sensors != nil && slices.ContainsFunc(sensors.Districts, func(d ingest.District) bool { return len(d.Polygon) > 2 }) {
		rules.Locate = sensors.Locate
	}
	files := form.File["photos"]
	district, commune, err := sub.Check(rules, len(files))
	if err != nil {
		return s.citizenRefused(c, p, device, "bad_report", err.Error(), raw)
	}
	lim := citizen.PhotoLimits{MaxBytes: cz.Limits.MaxPhotoBytes, MaxPixels: cz.Limits.MaxPhotoPixels}
	kept := make([]*citizen.Photo, len(files))
	for i, fh := range files {
		data, err := readPart(fh, lim.MaxBytes)
		if err != nil {
			return err
		}
		ph, err := citizen.ProcessPhoto(data, lim)
		var pe *citizen.PhotoError
		if errors.As(err, &pe) {
			return s.citizenRefused(c, p, device, pe.Reason, fmt.Sprintf("photos[%d] (%s): %s", i, fh.Filename, pe.Msg), raw)
		}
		if err != nil {
			return err
		}
		ph.CheckAgainst(sub.Location)
		kept[i] = ph
	}
	// every photo is good: keep them, then the report (a photo kept for a report not stored is
	// only an orphan file, never a report without its photos)
	r := citizen.Report{ID: newReportID(), App: p.ID, Device: citizen.Hash([]byte(device))[:16], ClientID: sub.ClientID, ClientKey: key,
		Category: sub.Category, Description: sub.Description, Location: sub.Location, District: district, Commune: commune,
		ReportedAt: sub.ReportedAt, Received: now, Contact: sub.Contact, Triage: citizen.Triage{State: citizen.StateReceived}}
	if cams != nil {
		r.Camera, r.CameraDistanceM = nearestCamera(cams, sub.Location)
	}
	for range 3 { // a billion tickets a day: a clash is all but impossible, and still checked
		random := make([]byte, 6)
		rand.Read(random)
		r.Ticket = citizen.NewTicket(now, random)
		if _, err := cz.Store.ReportByTicket(c.UserContext(), r.Ticket); errors.Is(err, analytics.ErrNoReport) {
			break
		} else if err != nil {
			return err
		}
	}
	for _, ph := range kept {
		if err := cz.Photos.Put(c.UserContext(), ph.Hash, ph.JPEG); err != nil {
			return err
		}
		if err := cz.Photos.Put(c.UserContext(), ph.ThumbHash, ph.Thumb); err != nil {
			return err
		}
		r.Photos = append(r.Photos, ph.Ref())
	}
	if err := cz.Store.AppendCitizenEvents(c.UserContext(), []analytics.CitizenEvent{{Time: now, Kind: "received", Actor: "app:" + p.ID, Report: r}}); err != nil {
		return err
	}
	if cz.Stored != nil {
		cz.Stored()
	}
	s.m.citizen.WithLabelValues("accepted").Inc()
	s.log.Info("citizen report received", "ticket", r.Ticket, "category", r.Category, "district", r.District, "photos", len(r.Photos))
	return c.Status(fiber.StatusCreated).JSON(CitizenReceipt{Ticket: r.Ticket, State: r.State, Received: r.Received})
}

// nearestCamera is the catalog's camera nearest to l within citizen.CameraRadiusM, with its
// distance rounded to the metre; "" when none is that near.
func nearestCamera(cams *streams.CameraCatalog, l geo.Location) (string, float64) {
	id, best := "", citizen.CameraRadiusM
	for i := range cams.Cameras {
		if d := cams.Cameras[i].Location.Distance(l); d <= best {
			id, best = cams.Cameras[i].ID, d
		}
	}
	if id == "" {
		return "", 0
	}
	return id, math.Round(best)
}

// readPart reads an uploaded part, at most one byte past max (ProcessPhoto refuses it then,
// with its reason).
func readPart(fh *multipart.FileHeader, max int) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, fmt.Errorf("read a photo: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("read a photo: %w", err)
	}
	return data, nil
}

// newReportID is a report's internal id.
func newReportID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return fmt.Sprintf("cr-%x", b)
}

// citizenStatus answers a ticket's report as the citizen may see it: no contact, no photos,
// no units.
func (s *Server) citizenStatus(c *fiber.Ctx, _ *auth.Principal) error {
	cz := s.opts.Citizen
	if cz == nil {
		return errUnavailable
	}
	ticket := c.Params("ticket")
	if !citizen.ValidTicket(ticket) {
		return errBadRequest("bad_ticket", "want a ticket such as PA-261201-7K3Q9X")
	}
	r, err := cz.Store.ReportByTicket(c.UserContext(), ticket)
	if errors.Is(err, analytics.ErrNoReport) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	return c.JSON(CitizenStatus{Ticket: r.Ticket, Category: r.Category, State: r.State, Received: r.Received, Answer: r.Answer})
}

// CitizenReportSource lists and reads the citizen reports (analytics.CitizenStore).
type CitizenReportSource interface {
	Reports(ctx context.Context, f analytics.ReportFilter) ([]citizen.Report, int, error)
	Report(ctx context.Context, id string) (citizen.Report, error)
}

var citizenListParams = []param{
	{name: "from", typ: "date-time", desc: "received from (RFC 3339; default 7 days ago)"},
	{name: "to", typ: "date-time", desc: "received before (RFC 3339; default now)"},
	{name: "category", typ: "string", desc: "report category"},
	{name: "district", typ: "string", desc: "district"},
	{name: "state", typ: "string", desc: "received, in_progress, resolved or rejected",
		enum: []string{citizen.StateReceived, citizen.StateInProgress, citizen.StateResolved, citizen.StateRejected}},
	pageParams[0], pageParams[1], // newest first: no sort
}

// sees tells whether p may see a report: a unit the reports routed to its units, the others
// every report.
func seesReport(p *auth.Principal, r *citizen.Report) bool { return p.Sees(r.Units) }

// forStaff is a report as p may read it: the citizen's contact only for those who act on
// reports (the center and the units), and the app's device never.
func forStaff(p *auth.Principal, r citizen.Report) citizen.Report {
	if !p.Can(auth.ActOnAlerts) {
		r.Contact = nil
	}
	r.Device, r.ClientKey = "", ""
	return r
}

// listCitizenReports lists the reports received in a range, newest first (a unit: its own).
func (s *Server) listCitizenReports(c *fiber.Ctx, p *auth.Principal) error {
	if s.opts.Citizen == nil || s.opts.Citizen.Reports == nil {
		return errUnavailable
	}
	now := time.Now().UTC()
	from, to, err := queryRange(c, now, 7*24*time.Hour)
	if err != nil {
		return err
	}
	state, err := queryEnum(c, "state", citizen.StateReceived, citizen.StateInProgress, citizen.StateResolved, citizen.StateRejected)
	if err != nil {
		return err
	}
	limit, offset, err := pageWindow(c)
	if err != nil {
		return err
	}
	f := analytics.ReportFilter{From: from, To: to, Category: c.Query("category"), District: c.Query("district"), State: state, Limit: limit, Offset: offset}
	if !p.SeesAll() {
		f.Units = p.Units
	}
	list, total, err := s.opts.Citizen.Reports.Reports(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := make([]citizen.Report, len(list))
	for i, r := range list {
		out[i] = forStaff(p, r)
	}
	return c.JSON(Page[citizen.Report]{Items: out, Total: total, Limit: limit, Offset: offset})
}

// getCitizenReport answers one report (404 for a unit it is not routed to).
func (s *Server) getCitizenReport(c *fiber.Ctx, p *auth.Principal) error {
	if s.opts.Citizen == nil || s.opts.Citizen.Reports == nil {
		return errUnavailable
	}
	r, err := s.opts.Citizen.Reports.Report(c.UserContext(), c.Params("id"))
	if errors.Is(err, analytics.ErrNoReport) || (err == nil && !seesReport(p, &r)) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	return c.JSON(forStaff(p, r))
}

// citizenPhoto answers a report's photo or thumbnail (JPEG) to whoever may see the report.
func (s *Server) citizenPhoto(c *fiber.Ctx, p *auth.Principal) error {
	cz := s.opts.Citizen
	if cz == nil || cz.Reports == nil {
		return errUnavailable
	}
	hash := c.Params("hash")
	if len(hash) != 64 || strings.Trim(hash, "0123456789abcdef") != "" {
		return errBadRequest("bad_photo", "want a photo's hex SHA-256")
	}
	r, err := cz.Reports.Report(c.UserContext(), c.Params("id"))
	if errors.Is(err, analytics.ErrNoReport) || (err == nil && (!seesReport(p, &r) || !slices.ContainsFunc(r.Photos, func(ph citizen.PhotoRef) bool {
		return ph.Hash == hash || ph.Thumb == hash
	}))) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	body, size, err := cz.Photos.Get(c.UserContext(), hash)
	if errors.Is(err, photos.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "image/jpeg")
	c.Set(fiber.HeaderCacheControl, "private, max-age=86400, immutable") // content-addressed
	return c.SendStream(body, int(size))
}

// reportAction acts on a report through the alert that routes it (and so on every report of
// its group): take, answer or reject. required names the body's field text reads.
func (s *Server) reportAction(c *fiber.Ctx, p *auth.Principal, body any, required string, text func() string,
	do func(ctx context.Context, id, actor, text string) (alerts.Alert, error), kind alerts.EventKind) error {
	cz := s.opts.Citizen
	if cz == nil || cz.Reports == nil || s.src.Alerts == nil {
		return errUnavailable
	}
	t, err := actionText(c, body, required, text)
	if err != nil {
		return err
	}
	r, err := cz.Reports.Report(c.UserContext(), c.Params("id"))
	if errors.Is(err, analytics.ErrNoReport) || (err == nil && !seesReport(p, &r)) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	if r.Alert == "" || r.State == citizen.StateResolved || r.State == citizen.StateRejected {
		return &apiError{Status: fiber.StatusConflict, Code: "refused", MessageVI: "Phản ánh chưa được chuyển tới đơn vị, hoặc đã được trả lời",
			MessageEN: "the report is not routed yet, or already answered", Detail: "state " + r.State}
	}
	a, err := s.alertAction(c, p, r.Alert, t, do, "phản ánh", "report")
	if err != nil {
		return err
	}
	// as the alert's event will store it (the store hears it a moment later)
	r.Triage, _ = triage.Of(alerts.Event{Kind: kind, Actor: actor(p), Reason: t, Alert: a})
	return c.JSON(forStaff(p, r))
}

// AnswerBody answers a report's group: the answer its citizens read by ticket.
type AnswerBody struct {
	Answer string `json:"answer"`
}

// takeReport takes a report's group in hand (đang xử lý): its alert is acknowledged.
func (s *Server) takeReport(c *fiber.Ctx, p *auth.Principal) error {
	var b AckBody
	return s.reportAction(c, p, &b, "", func() string { return b.Note }, s.src.Alerts.Acknowledge, alerts.EventAcknowledged)
}

// answerReport answers a report's group (đã xử lý): its alert is resolved with the answer.
func (s *Server) answerReport(c *fiber.Ctx, p *auth.Principal) error {
	var b AnswerBody
	return s.reportAction(c, p, &b, "answer", func() string { return b.Answer }, s.src.Alerts.Resolve, alerts.EventResolved)
}

// rejectReport refuses a report's group (từ chối) with the reason its citizens read.
func (s *Server) rejectReport(c *fiber.Ctx, p *auth.Principal) error {
	var b ResolveBody
	return s.reportAction(c, p, &b, "reason", func() string { return b.Reason }, s.src.Alerts.Reject, alerts.EventResolved)
}

var citizenStatParams = []param{
	{name: "by", typ: "string", desc: "category (default), district or unit", enum: []string{"category", "district", "unit"}},
	{name: "from", typ: "date-time", desc: "received from (RFC 3339; default 30 days ago)"},
	{name: "to", typ: "date-time", desc: "received before (RFC 3339; default now)"},
}

// citizenStats counts the reports and their response times by category, district or unit (a
// unit: the reports routed to it).
func (s *Server) citizenStats(c *fiber.Ctx, p *auth.Principal) error {
	if s.opts.Citizen == nil || s.opts.Citizen.Stats == nil {
		return errUnavailable
	}
	by, err := queryEnum(c, "by", "category", "district", "unit")
	if err != nil {
		return err
	}
	if by == "" {
		by = "category"
	}
	from, to, err := queryRange(c, time.Now().UTC(), 30*24*time.Hour)
	if err != nil {
		return err
	}
	var units []string
	if !p.SeesAll() {
		units = p.Units
	}
	list, err := s.opts.Citizen.Stats.ReportStats(c.UserContext(), from, to, by, units)
	if err != nil {
		return err
	}
	if list == nil {
		list = []analytics.ReportStat{}
	}
	return c.JSON(list)
}
