package dashboard

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/alerts/duty"
	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/dashboard/ngsild/notify"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/tlsconf"
	"github.com/haidang-ioc/ioc/streams/mediamtx"
	"github.com/haidang-ioc/ioc/streams/snapshot"
)

//go:embed web
var webFiles embed.FS

// Checker reports whether one dependency works; nil means it does.
type Checker interface {
	Check(ctx context.Context) error
}

// Check names a dependency shown on /healthz.
type Check struct {
	Name    string
	Checker Checker
}

// CAPSource is the public warning feed (alerts.CAPFeed).
type CAPSource interface {
	// Atom returns the Atom feed, its links prefixed with base.
	Atom(base string) ([]byte, error)
	// Document returns one CAP message; an error wrapping alerts.ErrNotFound when unknown.
	Document(ctx context.Context, identifier string) ([]byte, error)
}

// Sources are what the other roles give the dashboard to serve. A nil source leaves its routes
// in place (the API is the same on every process) answering 503 "unavailable".
type Sources struct {
	CAP CAPSource
	// Alerts is the alert engine; AlertHistory its store.
	Alerts       AlertService
	AlertHistory AlertHistory
	// Trends answers history questions (analytics.Querier).
	Trends TrendSource
	// DeadLetters sums up the rejected payloads (analytics.Querier).
	DeadLetters DeadLetterSource
	// CameraEvents reads the cameras' stored analytics events (analytics.Querier).
	CameraEvents CameraEventSource
	// City is the live state: catalogs, latest values, camera states, the hub.
	City *City
	// ReloadRules reloads the alert rule file.
	ReloadRules func(ctx context.Context) error
	// Audit keeps the audit log.
	Audit *Auditor
	// Keys keeps the API keys made, rotated and revoked through the API.
	Keys KeyStore
	// Warnings holds the public warnings waiting for a person to release them.
	Warnings WarningDrafts
	// Searcher searches the stored alerts (the history).
	Searcher AlertSearcher
	// Channels tells how each notification receiver's deliveries have gone lately
	// (alerts.Dispatcher).
	Channels interface{ Channels() []alerts.ChannelState }
	// Duty is the duty log and the shift handovers (duty.Book).
	Duty DutyBook
	// Incidents gathers the alerts into incidents and runs their procedures (incident.Manager).
	Incidents IncidentService
	// Leader, when several processes run the alert engine with a lease or this one runs
	// none, says where the leading engine answers: the alert routes and the public warning
	// feed are sent on to it unless this process leads.
	Leader Leader
}

// TileSource serves the map's tiles (tiles.Archive).
type TileSource interface {
	Tile(z uint8, x, y uint32) ([]byte, error)
	ContentType() string
	ContentEncoding() string
}

// DutyBook is the duty log and the shift handovers (duty.Book).
type DutyBook interface {
	Write(ctx context.Context, by duty.Person, text string) (analytics.DutyEntry, error)
	Entries(ctx context.Context, from, to time.Time, limit int) ([]analytics.DutyEntry, error)
	HandOver(ctx context.Context, by duty.Person, notes string, open []analytics.AlertRef, incidents []analytics.IncidentRef) (analytics.Handover, error)
	Accept(ctx context.Context, id string, by duty.Person, note string) (analytics.Handover, error)
	Handovers(ctx context.Context, limit int) ([]analytics.Handover, error)
}

// WarningDrafts are the public warnings (CAP) waiting for approval (alerts.CAPFeed).
type WarningDrafts interface {
	Drafts() []alerts.CAPDraft
	DraftOf(alertID string) (alerts.CAPDraft, bool)
	Approve(ctx context.Context, alertID, identifier, by, name string) (alerts.CAPDraft, bool, error)
	Reject(ctx context.Context, alertID, identifier, by, reason string) error
}

// Options configure a server.
type Options struct {
	HTTP config.HTTP
	// Tiles is the map tile archive of http.tiles_file (tiles.Archive); nil for none.
	Tiles    TileSource
	Version  string
	Checks   []Check
	Gatherer prometheus.Gatherer
	// Registerer takes the API's own metrics; nil registers none.
	Registerer prometheus.Registerer
	Log        *slog.Logger
	// Clock is the server's clock (a simulated province's when it plays faster than real
	// time); nil is the wall clock.
	Clock func() time.Time
	// Simulation describes the simulated province the server runs on; nil when it is real.
	Simulation *Simulation
	// MetricsToken, when set, is the bearer token /metrics requires (from
	// http.metrics.token_env).
	MetricsToken string
	// TLS, when set, serves HTTPS with its files (http.tls) and sends HSTS.
	TLS *tlsconf.Files
	// HealthOnly serves health, readiness, liveness and metrics only: a process without the
	// dashboard role (ingest, streams) answers its probes and scrapes.
	HealthOnly bool
	// ForwardTLS checks the leader's certificate when alert requests are sent on to an
	// https:// leader (nil: the system's roots).
	ForwardTLS *tls.Config
	// Video issues and checks the tokens that open a camera's live video in MediaMTX; nil when
	// no MediaMTX re-streams the cameras (streams.mediamtx).
	Video *Video
	// Stills fetches the cameras' ONVIF snapshots for the camera wall; nil serves none.
	Stills *snapshot.Client
	// Citizen serves the citizen apps' reports; nil serves none (citizen.enabled).
	Citizen *Citizen
	// Sharing keeps the NGSI-LD subscriptions and delivers them with the pushes; nil serves
	// no subscription.
	Sharing *Sharing
}

// Video is how browsers reach the cameras' live video: MediaMTX's WebRTC and HLS servers as
// browsers see them, and the tokens MediaMTX asks ioc about.
type Video struct {
	Tokens            *mediamtx.Tokens
	TTL               time.Duration
	WebRTCURL, HLSURL string
	// Playback fetches the recorded clips; nil when MediaMTX records nothing for ioc.
	Playback *mediamtx.Playback
	// DownloadUnits are the units whose members may save clips (administrators always may).
	DownloadUnits []string
}

// bodyLimit bounds a request's body: 1 MiB, or a citizen report with its photos when the
// citizen apps are served (the JSON routes still take 64 KiB at most).
func bodyLimit(c *Citizen) int {
	if c != nil && c.Limits.MaxRequestBytes > 1<<20 {
		return c.Limits.MaxRequestBytes
	}
	return 1 << 20
}

// Simulation tells the UI that what it shows is simulated, and how fast its clock runs.
type Simulation struct {
	// TitleVI and TitleEN name what is simulated, saying that it is: the province, and the
	// scenario it plays.
	TitleVI string `json:"title_vi"`
	TitleEN string `json:"title_en"`
	// Speed is how many times faster than real time the server's clock runs.
	Speed float64 `json:"speed"`
}

// Server is the HTTP server of the dashboard role.
type Server struct {
	app    *fiber.App
	opts   Options
	src    Sources
	auth   *auth.Authenticator
	routes []route
	log    *slog.Logger
	m      *apiMetrics
	// ctx ends when the server shuts down: live connections close then.
	ctx     context.Context
	stop    context.CancelFunc
	upgrade fiber.Handler
	// citizenLimit counts each citizen app device's reports.
	citizenLimit *deviceLimiter
	// throttle counts refused tokens per client address.
	throttle *refusalThrottle
	// metrics serves /metrics on its own address when http.metrics.listen is set.
	metrics *fiber.App
	docOnce sync.Once
	doc     []byte // the OpenAPI document
	// forwardCli sends alert requests on to the leading process (Sources.Leader).
	forwardCli *fasthttp.Client
	// notifier delivers the NGSI-LD subscriptions and pushes (Options.Sharing).
	notifier *notify.Notifier
}

// New builds the server: /healthz runs the checks, /metrics serves the gatherer, /cap the
// public warning feed, /api/v1 the API and its live hub, / the UI (the first two only with
// HealthOnly).
func New(opts Options, authn *auth.Authenticator, src Sources) *Server {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	s := &Server{opts: opts, src: src, auth: authn, log: opts.Log.With("component", "dashboard"), forwardCli: newForwardClient(opts.ForwardTLS)}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.m = newAPIMetrics(opts.Registerer)
	s.upgrade = s.liveHandler()
	s.app = fiber.New(fiber.Config{
		DisableStartupMessage: true,
		AppName:               "Hải Đăng IOC",
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          60 * time.Second,
		IdleTimeout:           120 * time.Second,
		BodyLimit:             bodyLimit(opts.Citizen),
		ErrorHandler:          s.errorHandler,
		// Values from a request (parameters, headers, the address) outlive it in the audit
		// log's outbox: fiber must copy them rather than lend fasthttp's reused buffers.
		Immutable: true,
	})
	s.throttle = newRefusalThrottle(opts.HTTP.RefusedTokenLimit, time.Now)
	if opts.Citizen != nil {
		s.citizenLimit = &deviceLimiter{limit: opts.Citizen.Limits.DeviceLimit, window: opts.Citizen.Limits.DeviceWindow}
	}
	s.app.Use(securityHeaders(s.opts.Video))
	if opts.TLS != nil && opts.HTTP.HSTSMaxAge > 0 {
		hsts := fmt.Sprintf("max-age=%d; includeSubDomains", int(opts.HTTP.HSTSMaxAge.Seconds()))
		s.app.Use(func(c *fiber.Ctx) error { c.Set(fiber.HeaderStrictTransportSecurity, hsts); return c.Next() })
	}
	s.app.Get("/healthz", s.health)
	s.app.Get("/readyz", s.health)
	s.app.Get("/livez", s.alive)
	metrics := []fiber.Handler{adaptor.HTTPHandler(promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))}
	if opts.MetricsToken != "" {
		metrics = append([]fiber.Handler{s.metricsGuard(opts.MetricsToken)}, metrics...)
	}
	if opts.HTTP.Metrics.Listen == "" {
		s.app.Get("/metrics", metrics...)
	} else {
		s.metrics = fiber.New(fiber.Config{DisableStartupMessage: true, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second})
		s.metrics.Get("/metrics", metrics...)
	}
	if opts.HealthOnly {
		return s
	}
	if src.CAP != nil || src.Leader != nil {
		s.app.Get(alerts.CAPFeedPath, s.capFeed)
		s.app.Get("/cap/:doc", s.capDocument)
	}
	s.mountAPI()
	s.mountNGSILD()
	if opts.Sharing != nil {
		s.notifier = s.newNotifier(opts.Sharing)
	}
	web, _ := fs.Sub(webFiles, "web")
	s.app.Use("/", filesystem.New(filesystem.Config{Root: http.FS(web), Index: "index.html"}))
	return s
}

// App gives tests the fiber app.
func (s *Server) App() *fiber.App { return s.app }

// MetricsApp gives tests the app of the separate metrics address (nil without one).
func (s *Server) MetricsApp() *fiber.App { return s.metrics }

// securityHeaders tells browsers what the UI may do: run only its own scripts (no inline
// script, nothing from another host), connect only to its server, never be framed, never
// sniff a type, and send no referrer outside. Map tiles come from the closed network's tile
// server (http.tile_url), so images may come from another host (ioc's own tiles, fetched with
// the token, are shown from blob: URLs); the UI colours its SVG with
// style attributes, which style-src allows (styles run no code). With live video, the UI may
// also connect to MediaMTX's WebRTC (WHEP) and HLS servers, and play media from blob: URLs.
func securityHeaders(video *Video) fiber.Handler {
	connect := "'self'"
	if video != nil {
		for _, raw := range []string{video.WebRTCURL, video.HLSURL} {
			if u, err := url.Parse(raw); err == nil && u.Host != "" {
				connect += " " + u.Scheme + "://" + u.Host
			}
		}
	}
	csp := "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: http: https:; media-src 'self' blob:; " +
		"connect-src " + connect + "; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
	return func(c *fiber.Ctx) error {
		c.Set("Content-Security-Policy", csp)
		c.Set("X-Content-Type-Options", "nosniff")
		c.Set("X-Frame-Options", "DENY")
		c.Set("Referrer-Policy", "no-referrer")
		return c.Next()
	}
}

// metricsGuard lets through only a scraper that sends the metrics token.
func (s *Server) metricsGuard(token string) fiber.Handler {
	want := sha256.Sum256([]byte(token))
	return func(c *fiber.Ctx) error {
		got, _ := bearerToken(c.Get(fiber.HeaderAuthorization))
		sum := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			s.m.unauthenticated.Inc()
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="metrics"`)
			return c.Status(fiber.StatusUnauthorized).SendString("metrics: a bearer token is required (http.metrics.token_env)\n")
		}
		return c.Next()
	}
}

// Run listens until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http: listen on %s: %w", s.opts.HTTP.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln (over TLS with http.tls; /metrics on its own address and the HTTPS
// redirect on http.redirect_listen when configured) until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.opts.TLS != nil {
		tc, err := s.opts.TLS.Server()
		if err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, tc)
		if s.opts.HTTP.RedirectListen != "" {
			stop, err := s.serveRedirect(ln.Addr())
			if err != nil {
				ln.Close()
				return err
			}
			defer stop()
		}
	}
	if s.metrics != nil {
		mln, err := net.Listen("tcp", s.opts.HTTP.Metrics.Listen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("http.metrics: listen on %s: %w", s.opts.HTTP.Metrics.Listen, err)
		}
		s.log.Info("metrics listening", "addr", mln.Addr().String())
		done := make(chan struct{})
		go func() { defer close(done); _ = s.metrics.Listener(mln) }() // owned here: shut down and waited for below
		defer func() {
			if err := s.metrics.ShutdownWithTimeout(5 * time.Second); err != nil {
				s.log.Warn("metrics shutdown", "err", err)
			}
			<-done
		}()
	}
	s.log.Info("http listening", "addr", ln.Addr().String())
	if !s.opts.HealthOnly && !s.auth.Enabled() {
		s.log.Warn("no API key or identity provider configured (http.auth): the API refuses every call; the UI cannot log in")
	}
	served := make(chan error, 1)
	go func() { served <- s.app.Listener(ln) }() // owned here: Serve waits for it below
	select {
	case err := <-served:
		s.stop()
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	s.stop()
	if err := s.app.ShutdownWithTimeout(10 * time.Second); err != nil {
		s.log.Warn("http shutdown", "err", err)
	}
	<-served
	return nil
}

// serveRedirect answers plain HTTP on http.redirect_listen with a permanent redirect to the
// same host and path over HTTPS on the port of tlsAddr; stop shuts it down.
func (s *Server) serveRedirect(tlsAddr net.Addr) (stop func(), err error) {
	ln, err := net.Listen("tcp", s.opts.HTTP.RedirectListen)
	if err != nil {
		return nil, fmt.Errorf("http.redirect_listen: listen on %s: %w", s.opts.HTTP.RedirectListen, err)
	}
	_, port, _ := net.SplitHostPort(tlsAddr.String())
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if port != "443" {
			host = net.JoinHostPort(host, port)
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})}
	s.log.Info("redirecting plain HTTP to HTTPS", "addr", ln.Addr().String())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }() // owned here: stop shuts it down and waits
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}

// checkResult is one dependency's state on /healthz.
type checkResult struct {
	Status    string  `json:"status"`
	Error     string  `json:"error,omitempty"`
	LatencyMS float64 `json:"latency_ms"`
}

// healthAnswer is the body of /healthz.
type healthAnswer struct {
	Status  string                 `json:"status"`
	Version string                 `json:"version"`
	Time    time.Time              `json:"time"`
	Checks  map[string]checkResult `json:"checks"`
}

// checkHealth runs every check at once, each bounded in time.
func (s *Server) checkHealth(ctx context.Context) healthAnswer {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ans := healthAnswer{Status: "ok", Version: s.opts.Version, Time: time.Now().UTC(), Checks: map[string]checkResult{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, chk := range s.opts.Checks {
		wg.Go(func() {
			start := time.Now()
			err := chk.Checker.Check(ctx)
			r := checkResult{Status: "up", LatencyMS: float64(time.Since(start).Microseconds()) / 1000}
			if err != nil {
				r.Status, r.Error = "down", err.Error()
			}
			mu.Lock()
			ans.Checks[chk.Name] = r
			if err != nil {
				ans.Status = "degraded"
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return ans
}

// alive answers /livez: 200 while the process serves, whatever its dependencies (a
// liveness probe restarts a process that does not answer, never one whose ClickHouse is away).
func (s *Server) alive(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"status": "alive", "version": s.opts.Version, "time": time.Now().UTC()})
}

// health answers /healthz and /readyz: 200 when every dependency is up, 503 otherwise.
func (s *Server) health(c *fiber.Ctx) error {
	ans := s.checkHealth(c.UserContext())
	code := fiber.StatusOK
	if ans.Status != "ok" {
		code = fiber.StatusServiceUnavailable
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(code).JSON(ans)
}

// apiError is the JSON body of every error answer: a stable code, the message in Vietnamese
// and in English, and what exactly was wrong where that helps.
type apiError struct {
	Status    int    `json:"-"`
	Code      string `json:"code"`
	MessageVI string `json:"message_vi"`
	MessageEN string `json:"message_en"`
	Detail    string `json:"detail,omitempty"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.MessageEN }

// Errors the API answers.
func errBadRequest(code, detail string) *apiError {
	return &apiError{Status: fiber.StatusBadRequest, Code: code, MessageVI: "Yêu cầu không hợp lệ", MessageEN: "bad request", Detail: detail}
}

// errMissingField is a request without a field it needs; detail names the field.
func errMissingField(field string) *apiError {
	return &apiError{Status: fiber.StatusBadRequest, Code: "missing_field", MessageVI: "Thiếu trường bắt buộc: " + field,
		MessageEN: "missing required field: " + field, Detail: field}
}

var (
	errUnauthenticated = &apiError{Status: fiber.StatusUnauthorized, Code: "unauthenticated", MessageVI: "Cần đăng nhập: mã truy cập thiếu, sai hoặc đã hết hạn", MessageEN: "authentication required: the token is missing, wrong or expired"}
	errTooManyRefused  = &apiError{Status: fiber.StatusTooManyRequests, Code: "too_many_refused", MessageVI: "Quá nhiều mã truy cập sai từ địa chỉ này; thử lại sau một phút", MessageEN: "too many refused tokens from this address; try again in a minute"}
	errForbidden       = &apiError{Status: fiber.StatusForbidden, Code: "forbidden", MessageVI: "Vai trò của bạn không được phép làm việc này", MessageEN: "your role may not do this"}
	errNotFound        = &apiError{Status: fiber.StatusNotFound, Code: "not_found", MessageVI: "Không tìm thấy", MessageEN: "not found"}
	errUnavailable     = &apiError{Status: fiber.StatusServiceUnavailable, Code: "unavailable", MessageVI: "Chức năng này không chạy trong tiến trình này", MessageEN: "this function does not run in this process"}
	errStandby         = &apiError{Status: fiber.StatusServiceUnavailable, Code: "standby", MessageVI: "Bộ máy cảnh báo của tiến trình này đang dự phòng: tiến trình khác đang chủ trì, hãy thử lại", MessageEN: "this process's alert engine stands by: another process leads; try again"}
	errRateLimited     = &apiError{Status: fiber.StatusTooManyRequests, Code: "rate_limited", MessageVI: "Quá nhiều yêu cầu, hãy thử lại sau ít phút", MessageEN: "too many requests, try again in a minute"}
)

// toAPIError is the answer err gets: an apiError as it is, a fiber error by its status, and
// anything else a 500 (nil when err is one: the caller logs it).
func toAPIError(err error) *apiError {
	var ae *apiError
	var fe *fiber.Error
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, alerts.ErrStandby):
		return errStandby
	case errors.As(err, &fe):
		switch fe.Code {
		case fiber.StatusNotFound:
			return errNotFound
		case fiber.StatusMethodNotAllowed:
			return &apiError{Status: fe.Code, Code: "method_not_allowed", MessageVI: "Phương thức không được phép", MessageEN: "method not allowed"}
		case fiber.StatusRequestEntityTooLarge:
			return &apiError{Status: fe.Code, Code: "too_large", MessageVI: "Yêu cầu quá lớn", MessageEN: "request too large"}
		}
		if fe.Code < 500 {
			return &apiError{Status: fe.Code, Code: "bad_request", MessageVI: "Yêu cầu không hợp lệ", MessageEN: "bad request"}
		}
	}
	return errInternal
}

var errInternal = &apiError{Status: fiber.StatusInternalServerError, Code: "internal", MessageVI: "Lỗi máy chủ", MessageEN: "server error"}

func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	ae := toAPIError(err)
	if ae == errInternal {
		s.log.Error("http handler", "method", c.Method(), "path", c.Path(), "err", err)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(ae.Status).JSON(ae)
}
