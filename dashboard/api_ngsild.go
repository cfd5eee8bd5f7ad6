package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/dashboard/ngsild"
)

// NGSILDPrefix is where the NGSI-LD API is served (ETSI GS CIM 009's own root, beside /api/v1).
const NGSILDPrefix = "/ngsi-ld/v1"

// ngsildParams are the query parameters the entity queries take; any other is BadRequestData.
var ngsildParams = map[string]bool{"type": true, "id": true, "idPattern": true, "q": true, "attrs": true, "georel": true, "geometry": true,
	"coordinates": true, "geoproperty": true, "limit": true, "offset": true, "count": true, "options": true, "format": true}

// temporalParams are the temporal query's own parameters, beside ngsildParams' (but q).
var temporalParams = map[string]bool{"timerel": true, "timeAt": true, "endTimeAt": true, "lastN": true, "aggrMethods": true, "aggrPeriodDuration": true}

// maxTemporalSpan bounds a temporal query's window.
const maxTemporalSpan = 31 * 24 * time.Hour

// mountNGSILD serves the NGSI-LD API: the @context to anyone, the entities to the roles that
// may share (partners within their scope), each answer rate-limited with the rest of the API
// and a partner's every request audited.
func (s *Server) mountNGSILD() {
	g := s.app.Group(NGSILDPrefix)
	g.Get(strings.TrimPrefix(ngsild.ContextPath, NGSILDPrefix), func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, "application/ld+json")
		c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
		return c.Send(ngsild.Context)
	})
	handlers := []fiber.Handler{s.ngsildGuard}
	if limit := s.rateLimit(func(c *fiber.Ctx) error {
		return sendProblem(c, &ngsild.Problem{Type: "about:blank", Title: "Too many requests", Status: fiber.StatusTooManyRequests,
			Detail: "more than http.rate_limit requests in a minute"})
	}); limit != nil {
		handlers = append(handlers, limit)
	}
	g.Get("/entities", append(handlers, s.ngsildEntities)...)
	g.Get("/entities/:id", append(handlers, s.ngsildEntity)...)
	g.Get("/temporal/entities", append(handlers, s.ngsildTemporal)...)
	s.mountSubscriptions(g, handlers)
	g.Use(func(c *fiber.Ctx) error {
		return sendProblem(c, ngsild.NotFound(c.Method()+" "+c.Path()+": not served (entities, entities/{id}, temporal/entities, subscriptions and the @context are)"))
	})
}

// ngsildGuard lets in the callers that may share, audits partners' requests, and answers the
// media types NGSI-LD answers in.
func (s *Server) ngsildGuard(c *fiber.Ctx) error {
	p, err := s.authenticate(c, c.Get(fiber.HeaderAuthorization))
	if err != nil {
		var ae *apiError
		status := fiber.StatusUnauthorized
		if errors.As(err, &ae) {
			status = ae.Status
		}
		return sendProblem(c, &ngsild.Problem{Type: "about:blank", Title: "Unauthorized", Status: status, Detail: "a valid API key is needed (Authorization: Bearer)"})
	}
	if !p.Can(auth.Share) {
		s.m.denied.Inc()
		return sendProblem(c, &ngsild.Problem{Type: "about:blank", Title: "Forbidden", Status: fiber.StatusForbidden, Detail: "the role " + string(p.Role) + " may not read the NGSI-LD API"})
	}
	c.Locals(principalKey, p)
	if accept := c.Get(fiber.HeaderAccept); accept != "" && !acceptsNGSILD(accept) {
		return sendProblem(c, &ngsild.Problem{Type: ngsild.ErrInvalidRequest, Title: "Not acceptable", Status: fiber.StatusNotAcceptable,
			Detail: "answers are application/json or application/ld+json"})
	}
	err = c.Next()
	if err != nil && toAPIError(err) == errInternal { // a store that failed: ProblemDetails, as every NGSI-LD error
		s.log.Error("ngsi-ld handler", "method", c.Method(), "path", c.Path(), "err", err)
		err = sendProblem(c, &ngsild.Problem{Type: ngsild.ErrInternal, Title: "Internal error", Status: fiber.StatusInternalServerError,
			Detail: "the history or the subscriptions' store did not answer; try again"})
	}
	if p.Role == auth.Partner && c.Method() == fiber.MethodGet { // the changes audit themselves
		s.audit(p, "ngsild.read", c.Params("id"), c.OriginalURL(), c.Response().StatusCode(), c.IP())
	}
	return err
}

func acceptsNGSILD(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		switch strings.TrimSpace(mt) {
		case "application/json", "application/ld+json", "application/*", "*/*":
			return true
		}
	}
	return false
}

// sendProblem answers a ProblemDetails error.
func sendProblem(c *fiber.Ctx, p *ngsild.Problem) error {
	body, _ := json.Marshal(p)
	c.Set(fiber.HeaderContentType, "application/json")
	return c.Status(p.Status).Send(body)
}

// ngsildSnapshot is the live city as the entities are made of it.
func (s *Server) ngsildSnapshot() *ngsild.Snapshot {
	snap := &ngsild.Snapshot{Latest: map[string][]ngsild.Value{}, CameraStates: map[string]ngsild.CameraState{}, Now: s.opts.Clock()}
	if s.src.City == nil {
		return snap
	}
	snap.Sensors, snap.Cameras = s.src.City.Catalogs()
	h := s.src.City.Hub()
	h.Each(KindReading, func(_ string, data any) {
		if v := data.(SensorValue); v.Text == "" {
			snap.Latest[v.Sensor] = append(snap.Latest[v.Sensor], ngsild.Value{Metric: v.Metric, Value: v.Value, Unit: v.Unit, Time: v.Time})
		}
	})
	h.Each(KindCamera, func(_ string, data any) {
		st := data.(CameraState)
		snap.CameraStates[st.Camera] = ngsild.CameraState{State: st.State, Time: st.Time, FPS: st.FPS}
	})
	h.Each(KindAlert, func(_ string, data any) { snap.Alerts = append(snap.Alerts, data.(AlertChange).Alert) })
	return snap
}

// ngsildScope is what p may read: a partner its key's types and districts, the staff all.
func ngsildScope(p *auth.Principal) ngsild.Scope {
	if p.Role != auth.Partner {
		return ngsild.Scope{}
	}
	return ngsild.Scope{Types: p.Types, Districts: p.Districts}
}

// ngsildQuery reads an entity query's parameters (and, temporal, the temporal query's),
// refusing an unknown one; nil with the problem already answered.
func (s *Server) ngsildQuery(c *fiber.Ctx, temporal bool) *ngsild.Request {
	var unknown []string
	c.Context().QueryArgs().VisitAll(func(k, _ []byte) {
		if !ngsildParams[string(k)] && !(temporal && temporalParams[string(k)]) {
			unknown = append(unknown, string(k))
		}
	})
	if len(unknown) > 0 {
		_ = sendProblem(c, ngsild.BadRequest(strings.Join(unknown, ","), "unknown query parameter"))
		return nil
	}
	req, err := ngsild.Parse(ngsild.Params{Type: c.Query("type"), ID: c.Query("id"), IDPattern: c.Query("idPattern"), Q: c.Query("q"),
		Attrs: c.Query("attrs"), GeoRel: c.Query("georel"), Geometry: c.Query("geometry"), Coordinates: c.Query("coordinates"),
		GeoProperty: c.Query("geoproperty"), Limit: c.Query("limit"), Offset: c.Query("offset"), Count: c.Query("count") == "true",
		Options: c.Query("options"), Format: c.Query("format")})
	if err != nil {
		var prob *ngsild.Problem
		if !errors.As(err, &prob) {
			prob = &ngsild.Problem{Type: ngsild.ErrInternal, Title: "Internal error", Status: 500}
		}
		_ = sendProblem(c, prob)
		return nil
	}
	return req
}

// selectEntities answers a query's page of the caller's entities, with the count header.
func (s *Server) selectEntities(c *fiber.Ctx, req *ngsild.Request) []ngsild.Entity {
	page, total := req.Select(ngsild.Entities(s.ngsildSnapshot(), req.Types...), ngsildScope(principal(c)))
	if req.Count { // as the specification spells it (fasthttp would write Ngsild-Results-Count)
		c.Response().Header.DisableNormalizing()
		c.Set("NGSILD-Results-Count", strconv.Itoa(total))
	}
	return page
}

// ngsildEntities answers GET /ngsi-ld/v1/entities.
func (s *Server) ngsildEntities(c *fiber.Ctx) error {
	req := s.ngsildQuery(c, false)
	if req == nil {
		return nil
	}
	page := s.selectEntities(c, req)
	ctxURL := s.contextURL(c)
	out := make([]map[string]any, len(page))
	for i := range page {
		out[i] = ngsild.Render(&page[i], req.Attrs, req.KeyValues, s.bodyContext(c, ctxURL))
	}
	return sendEntities(c, out, ctxURL)
}

// ngsildEntity answers GET /ngsi-ld/v1/entities/{id}.
func (s *Server) ngsildEntity(c *fiber.Ctx) error {
	id, err := url.PathUnescape(c.Params("id"))
	if err != nil || !strings.Contains(id, ":") {
		return sendProblem(c, ngsild.BadRequest("id", "want the entity's URI, such as urn:ngsi-ld:WaterObserved:lc-hong-laocai"))
	}
	var attrs []string
	if a := c.Query("attrs"); a != "" {
		attrs = strings.Split(a, ",")
	}
	keyValues := ngsild.KeyValues(c.Query("options"), c.Query("format"))
	typ, _, _ := strings.Cut(strings.TrimPrefix(id, "urn:ngsi-ld:"), ":") // the type its URN names
	for _, e := range ngsild.Entities(s.ngsildSnapshot(), typ) {
		if e.ID == id && ngsildScope(principal(c)).Allows(&e) {
			ctxURL := s.contextURL(c)
			return sendEntities(c, ngsild.Render(&e, attrs, keyValues, s.bodyContext(c, ctxURL)), ctxURL)
		}
	}
	return sendProblem(c, ngsild.NotFound("no entity "+id))
}

// contextURL is where this server serves the @context, as the caller reached it.
func (s *Server) contextURL(c *fiber.Ctx) string { return c.BaseURL() + ngsild.ContextPath }

// bodyContext is the @context an answer's entities carry: in the body for application/ld+json,
// else none (the Link header names it).
func (s *Server) bodyContext(c *fiber.Ctx, ctxURL string) string {
	if wantsLD(c) {
		return ctxURL
	}
	return ""
}

func wantsLD(c *fiber.Ctx) bool {
	return strings.Contains(c.Get(fiber.HeaderAccept), "application/ld+json")
}

// sendEntities answers body as application/ld+json (the @context inside) or application/json
// (the @context in the Link header).
func sendEntities(c *fiber.Ctx, body any, ctxURL string) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	if wantsLD(c) {
		c.Set(fiber.HeaderContentType, "application/ld+json")
	} else {
		c.Set(fiber.HeaderContentType, "application/json")
		c.Set(fiber.HeaderLink, ngsild.Link(ctxURL))
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(data)
}

// ngsildTemporal answers GET /ngsi-ld/v1/temporal/entities: the observation entities the query
// selects, each attribute with its stored values in the window (the latest lastN, at most
// 1,000) or their aggregates over aggrPeriodDuration (from the rollups where they serve it).
func (s *Server) ngsildTemporal(c *fiber.Ctx) error {
	if s.src.Trends == nil {
		return sendProblem(c, &ngsild.Problem{Type: ngsild.ErrInternal, Title: "Unavailable", Status: fiber.StatusServiceUnavailable, Detail: "no history in this process"})
	}
	req := s.ngsildQuery(c, true)
	if req == nil {
		return nil
	}
	if c.Query("q") != "" {
		return sendProblem(c, &ngsild.Problem{Type: ngsild.ErrOperationNotSupported, Title: "Operation not supported", Status: 422,
			Detail: "q on temporal values: select the entities by type, id, idPattern, attrs or georel"})
	}
	for _, t := range req.Types {
		if !slices.Contains(ngsild.TemporalTypes, t) {
			return sendProblem(c, ngsild.BadRequest("type", t+" has no temporal values: "+strings.Join(ngsild.TemporalTypes, ", ")+" have"))
		}
	}
	if len(req.Types) == 0 {
		req.Types = ngsild.TemporalTypes
	}
	tq, err := ngsild.ParseTemporal(ngsild.TemporalParams{TimeRel: c.Query("timerel"), TimeAt: c.Query("timeAt"), EndTimeAt: c.Query("endTimeAt"),
		LastN: c.Query("lastN"), AggrMethods: c.Query("aggrMethods"), AggrPeriod: c.Query("aggrPeriodDuration"), Options: c.Query("options")},
		s.opts.Clock(), maxTemporalSpan)
	var prob *ngsild.Problem
	if errors.As(err, &prob) {
		return sendProblem(c, prob)
	}
	page := s.selectEntities(c, req)
	out := make([]map[string]any, len(page))
	// one question per metric, for every entity of the page whose type holds it
	type target struct {
		entity         int
		attr, unitCode string
	}
	byMetric := map[string]map[string][]target{} // metric → sensor → where its answer goes
	for i := range page {
		e := &page[i]
		out[i] = map[string]any{"id": e.ID, "type": e.Type}
		sensor := strings.TrimPrefix(e.ID, "urn:ngsi-ld:"+e.Type+":")
		for _, attr := range temporalAttrs(e, req.Attrs) {
			metric := ngsild.Metric(e.Type, attr)
			if byMetric[metric] == nil {
				byMetric[metric] = map[string][]target{}
			}
			byMetric[metric][sensor] = append(byMetric[metric][sensor], target{i, attr, e.Attrs[attr].UnitCode})
		}
	}
	for metric, sensors := range byMetric {
		ids := make([]string, 0, len(sensors))
		for id := range sensors {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		values, err := s.temporalValues(c, tq, metric, ids)
		var qe *analytics.QueryError
		if errors.As(err, &qe) {
			return sendProblem(c, ngsild.BadRequest(metric, qe.Msg))
		}
		if err != nil {
			return err
		}
		for sensor, targets := range sensors {
			for _, t := range targets {
				if tq.Aggr != nil {
					out[t.entity][t.attr] = ngsild.Aggregated(values.buckets[sensor], tq.Aggr)
				} else {
					out[t.entity][t.attr] = ngsild.TemporalValues(values.samples[sensor], t.unitCode, tq.Simplified)
				}
			}
		}
	}
	ctxURL := s.contextURL(c)
	if wantsLD(c) {
		for i := range out {
			out[i]["@context"] = ctxURL
		}
	}
	return sendEntities(c, out, ctxURL)
}

// temporalAttrs are the attributes of e that hold a metric, those of attrs when named.
func temporalAttrs(e *ngsild.Entity, attrs []string) []string {
	var out []string
	for _, attr := range ngsild.Attribute[e.Type] { // each type's attributes are distinct
		if _, has := e.Attrs[attr]; (len(attrs) == 0 && has) || slices.Contains(attrs, attr) {
			out = append(out, attr)
		}
	}
	slices.Sort(out)
	return out
}

// temporalAnswer is one metric's stored values or aggregates, by sensor.
type temporalAnswer struct {
	samples map[string][]ngsild.Sample
	buckets map[string][]ngsild.Bucket
}

// temporalValues asks the history for metric of sensors over tq's window: the latest values,
// oldest first, or the aggregates over tq.Period (its step must be one the trends take).
func (s *Server) temporalValues(c *fiber.Ctx, tq *ngsild.Temporal, metric string, sensors []string) (temporalAnswer, error) {
	ans := temporalAnswer{samples: map[string][]ngsild.Sample{}, buckets: map[string][]ngsild.Bucket{}}
	if tq.Aggr == nil {
		vals, err := s.src.Trends.Values(c.UserContext(), sensors, metric, tq.From, tq.To, tq.LastN)
		if err != nil {
			return ans, err
		}
		for sensor, vs := range vals {
			samples := make([]ngsild.Sample, len(vs))
			for i, v := range vs { // newest first from the store; oldest first in the answer
				samples[len(vs)-1-i] = ngsild.Sample{T: v.T, Value: v.Value}
			}
			ans.samples[sensor] = samples
		}
		return ans, nil
	}
	from := tq.From.Truncate(tq.Period)
	points := int((tq.To.Sub(from) + tq.Period - 1) / tq.Period)
	series, err := s.src.Trends.Trend(c.UserContext(), analytics.TrendRequest{Sensors: sensors, Metric: metric, From: from, To: from.Add(time.Duration(points) * tq.Period), MaxPoints: points})
	if err != nil {
		return ans, err
	}
	for _, se := range series {
		if se.Step != tq.Period {
			return ans, &analytics.QueryError{Code: analytics.CodeBadParam, Msg: fmt.Sprintf("aggrPeriodDuration of %s: the history answers buckets of 1s, 5s, 10s, 30s, 1m, 2m, 5m, 10m, 15m, 30m, 1h, 2h, 3h, 6h, 12h, 1d or 7d that fit 5,000 in the window (this one takes %s)", tq.Period, se.Step)}
		}
		var bs []ngsild.Bucket
		for _, p := range se.Points {
			if !p.Missing {
				bs = append(bs, ngsild.Bucket{From: p.T, To: p.T.Add(se.Step), Count: p.Count, Min: p.Min, Max: p.Max, Avg: p.Avg, Sum: p.Sum})
			}
		}
		ans.buckets[se.Sensor] = bs
	}
	return ans, nil
}
