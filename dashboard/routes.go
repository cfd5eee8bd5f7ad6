package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"github.com/haidang-ioc/ioc/dashboard/auth"
)

// APIPrefix is where the API's routes start.
const APIPrefix = "/api/v1"

// param is a documented query parameter. A query parameter a route does not list is refused.
type param struct {
	name, typ, desc string // typ: string, integer, number, boolean, date-time, list (comma-separated)
	enum            []string
}

// route is one API route: how it is served, who may call it, and how it is documented. The
// OpenAPI document is generated from this table and a test compares it with fiber's routes.
type route struct {
	method, path string // fiber syntax, under APIPrefix
	id, tag      string
	summary      string // English, then Vietnamese after " / "
	// perm is what the caller must be allowed; "" is a public route.
	perm  auth.Permission
	query []param
	// body and resp are zero values of the request and answer bodies (for the document).
	body, resp any
	// produces is the answer's content type when it is not JSON.
	produces string
	// audit names the change the route makes; every call is then kept in the audit log.
	audit string
	// leads marks a route the alert engine answers outside the alerts, duty and incidents tags
	// (acting on a citizen report): served where the engine leads.
	leads bool
	h     func(c *fiber.Ctx, p *auth.Principal) error
}

// pageParams are the list routes' paging and sorting parameters.
var pageParams = []param{
	{name: "limit", typ: "integer", desc: "items per page, 1-1000 (default 100)"},
	{name: "offset", typ: "integer", desc: "items to skip (default 0)"},
	{name: "sort", typ: "string", desc: "field to sort by; a leading - sorts descending"},
}

func withPaging(ps ...param) []param { return append(ps, pageParams...) }

const maxBody = 64 << 10

// mountAPI registers every route of the table with its guard.
func (s *Server) mountAPI() {
	s.routes = s.table()
	api := s.app.Group(APIPrefix)
	limit := s.rateLimit(func(*fiber.Ctx) error { return errRateLimited })
	for _, r := range s.routes {
		handlers := []fiber.Handler{s.guard(r)}
		if r.perm != "" && limit != nil {
			handlers = append(handlers, limit)
		}
		handlers = append(handlers, s.serve(r))
		api.Add(r.method, r.path, handlers...)
	}
	api.Use(func(c *fiber.Ctx) error { return errNotFound })
}

// rateLimit is the per-caller limit of http.rate_limit requests a minute (nil when off);
// refused answers what a caller past it gets.
func (s *Server) rateLimit(refused fiber.Handler) fiber.Handler {
	if s.opts.HTTP.RateLimit <= 0 {
		return nil
	}
	return limiter.New(limiter.Config{
		Max: s.opts.HTTP.RateLimit, Expiration: time.Minute, LimiterMiddleware: limiter.SlidingWindow{},
		KeyGenerator: func(c *fiber.Ctx) string { return principal(c).ID },
		LimitReached: func(c *fiber.Ctx) error {
			s.m.limited.Inc()
			return refused(c)
		},
	})
}

// guard refuses what a route does not take: unknown query parameters, a caller without a valid
// token or without the route's permission, and bodies that are not JSON or too large.
func (s *Server) guard(r route) fiber.Handler {
	known := map[string]bool{}
	for _, p := range r.query {
		known[p.name] = true
	}
	return func(c *fiber.Ctx) error {
		var unknown []string
		c.Context().QueryArgs().VisitAll(func(k, _ []byte) {
			if !known[string(k)] {
				unknown = append(unknown, string(k))
			}
		})
		if len(unknown) > 0 {
			return errBadRequest("unknown_parameter", "unknown query parameter(s): "+strings.Join(unknown, ", "))
		}
		if r.perm == "" || r.id == "live" { // the live hub authenticates its connections itself
			return c.Next()
		}
		p, err := s.authenticate(c, c.Get(fiber.HeaderAuthorization))
		if err != nil {
			return err
		}
		if !p.Can(r.perm) {
			s.m.denied.Inc()
			if r.audit != "" { // a change refused for the role is kept too
				s.audit(p, r.audit, c.Params("id"), "refused: the role lacks "+string(r.perm), fiber.StatusForbidden, c.IP())
			}
			return errForbidden
		}
		c.Locals(principalKey, p)
		if r.body != nil {
			if len(c.Body()) > maxBody {
				return fiber.ErrRequestEntityTooLarge
			}
			if !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON) {
				return errBadRequest("not_json", "send the body as application/json")
			}
		}
		return c.Next()
	}
}

// authenticate reads a bearer token ("Bearer <token>", the scheme in any case as RFC 7235
// says); an address that sent too many refused tokens this minute is answered 429 first.
func (s *Server) authenticate(c *fiber.Ctx, header string) (*auth.Principal, error) {
	if s.throttle.blocked(c.IP()) {
		s.m.throttled.Inc()
		return nil, errTooManyRefused
	}
	token, ok := bearerToken(header)
	if !ok { // no token guessed: counted, neither logged nor throttled
		s.m.unauthenticated.Inc()
		return nil, errUnauthenticated
	}
	p, err := s.auth.Authenticate(c.UserContext(), token)
	if err != nil {
		return nil, s.refuse(c.IP(), c.Path(), err)
	}
	return p, nil
}

// bearerToken reads the token of an Authorization header of the Bearer scheme, whose name is
// case-insensitive (RFC 7235 §2.1).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// refuse counts a refused caller and returns the answer. The log says why (never the token)
// for an address's first refusal of the minute and when it starts being throttled; the rest
// only count.
// A key that was issued but is revoked or expired also goes to the audit log, each time (the
// throttle bounds how often an address can be refused).
func (s *Server) refuse(remote, path string, why error) *apiError {
	s.m.unauthenticated.Inc()
	switch n := s.throttle.refused(remote); {
	case n == 1:
		s.log.Info("token refused", "remote", remote, "path", path, "why", why)
	case n == s.opts.HTTP.RefusedTokenLimit:
		s.log.Warn("client throttled: too many refused tokens this minute", "remote", remote, "refused", n, "path", path, "why", why)
	}
	var kr *auth.KeyRefused
	if errors.As(why, &kr) {
		s.audit(&auth.Principal{ID: "key:" + kr.ID, Name: kr.Name}, "auth.refused", path, kr.Error(), fiber.StatusUnauthorized, remote)
	}
	return errUnauthenticated
}

// Keys of a request's locals (strings: the WebSocket connection reads them by name).
const (
	principalKey = "ioc.principal"
	auditKey     = "ioc.audit"
)

// principal is the caller of a guarded route.
func principal(c *fiber.Ctx) *auth.Principal {
	p, _ := c.Locals(principalKey).(*auth.Principal)
	if p == nil {
		return &auth.Principal{}
	}
	return p
}

// audit keeps one entry of the audit log, when there is one: p did action on target.
func (s *Server) audit(p *auth.Principal, action, target, detail string, status int, remote string) {
	if s.src.Audit == nil {
		return
	}
	s.src.Audit.Record(AuditEntry{Time: time.Now().UTC(), Actor: p.ID, Name: p.Name, Role: string(p.Role), Action: action,
		Target: target, Detail: detail, Status: status, Remote: remote})
}

// noteAudit sets what the audit log says of this call beyond its route and target.
func noteAudit(c *fiber.Ctx, detail string) { c.Locals(auditKey, detail) }

// serve runs the route's handler and keeps a changing call in the audit log, whatever its end.
func (s *Server) serve(r route) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if r.leads || r.tag == "alerts" || r.tag == "duty" || r.tag == "incidents" { // the alert engine's and the duty book's: served where the engine leads
			if done, err := s.forwarded(c); done {
				return err
			}
		}
		p := principal(c)
		err := r.h(c, p)
		if r.audit != "" {
			status := c.Response().StatusCode()
			if err != nil {
				status = toAPIError(err).Status
			}
			detail, _ := c.Locals(auditKey).(string)
			s.audit(p, r.audit, c.Params("id"), detail, status, c.IP())
		}
		return err
	}
}

// decodeBody decodes a JSON body strictly: unknown fields, trailing data and wrong types are
// refused with what was wrong.
func decodeBody(c *fiber.Ctx, v any) error {
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errBadRequest("bad_json", "the body is not the JSON this route takes: "+err.Error())
	}
	if dec.More() {
		return errBadRequest("bad_json", "the body holds more than one JSON value")
	}
	return nil
}

// queryInt reads an integer parameter within [lo, hi], def when absent.
func queryInt(c *fiber.Ctx, name string, def, lo, hi int) (int, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, errBadRequest("bad_parameter", fmt.Sprintf("%s=%q: want an integer from %d to %d", name, v, lo, hi))
	}
	return n, nil
}

// queryTime reads an RFC 3339 time parameter, def when absent.
func queryTime(c *fiber.Ctx, name string, def time.Time) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, errBadRequest("bad_parameter", fmt.Sprintf("%s=%q: want an RFC 3339 time such as 2026-11-23T08:00:00+07:00", name, v))
	}
	return t.UTC(), nil
}

// queryRange reads the from and to parameters of a range ending at to (default to, and from
// back before it).
func queryRange(c *fiber.Ctx, to time.Time, back time.Duration) (time.Time, time.Time, error) {
	from, err := queryTime(c, "from", to.Add(-back))
	if err != nil {
		return from, to, err
	}
	to, err = queryTime(c, "to", to)
	return from, to, err
}

// queryList reads a comma-separated list parameter.
func queryList(c *fiber.Ctx, name string) []string {
	var out []string
	for v := range strings.SplitSeq(c.Query(name), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// queryEnum reads a parameter that must be one of allowed (or absent).
func queryEnum(c *fiber.Ctx, name string, allowed ...string) (string, error) {
	v := c.Query(name)
	if v != "" && !slices.Contains(allowed, v) {
		return "", errBadRequest("bad_parameter", fmt.Sprintf("%s=%q: want one of %s", name, v, strings.Join(allowed, ", ")))
	}
	return v, nil
}

// sendPage answers the page of items the request asks for (see paginate).
func sendPage[T any](c *fiber.Ctx, items []T, sorters map[string]func(a, b T) int, def string) error {
	pg, err := paginate(c, items, sorters, def)
	if err != nil {
		return err
	}
	return c.JSON(pg)
}

// Page is one page of a list: every list route answers this way.
type Page[T any] struct {
	Items  []T `json:"items"`
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

// pageWindow reads the limit and offset parameters of a list.
func pageWindow(c *fiber.Ctx) (limit, offset int, err error) {
	if limit, err = queryInt(c, "limit", 100, 1, 1000); err != nil {
		return 0, 0, err
	}
	offset, err = queryInt(c, "offset", 0, 0, 1<<30)
	return limit, offset, err
}

// paginate sorts items by the sort parameter (one of sorters' keys, - for descending; def
// when absent) and cuts the requested page.
func paginate[T any](c *fiber.Ctx, items []T, sorters map[string]func(a, b T) int, def string) (Page[T], error) {
	limit, offset, err := pageWindow(c)
	if err != nil {
		return Page[T]{}, err
	}
	by := c.Query("sort", def)
	field, desc := strings.CutPrefix(by, "-")
	cmp, ok := sorters[field]
	if !ok {
		names := make([]string, 0, len(sorters))
		for k := range sorters {
			names = append(names, k)
		}
		slices.Sort(names)
		return Page[T]{}, errBadRequest("bad_parameter", fmt.Sprintf("sort=%q: want one of %s (- before it for descending)", by, strings.Join(names, ", ")))
	}
	slices.SortStableFunc(items, func(a, b T) int {
		if desc {
			return cmp(b, a)
		}
		return cmp(a, b)
	})
	pg := Page[T]{Total: len(items), Limit: limit, Offset: offset, Items: []T{}}
	if offset < len(items) {
		pg.Items = items[offset:min(len(items), offset+limit)]
	}
	return pg, nil
}
