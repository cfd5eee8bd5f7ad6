package dashboard

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/haidang-ioc/ioc/alerts"
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

// Sources are what the other roles give the dashboard to serve; a nil source serves nothing.
type Sources struct {
	CAP CAPSource
}

// Server is the HTTP server of the dashboard role.
type Server struct {
	app     *fiber.App
	listen  string
	checks  []Check
	version string
	src     Sources
	log     *slog.Logger
}

// New builds the server: /healthz runs checks, /metrics serves gatherer, /cap serves the
// public warning feed, / serves the UI.
func New(listen, version string, checks []Check, gatherer prometheus.Gatherer, src Sources, log *slog.Logger) *Server {
	s := &Server{listen: listen, checks: checks, version: version, src: src, log: log.With("component", "dashboard")}
	s.app = fiber.New(fiber.Config{
		DisableStartupMessage: true,
		AppName:               "Hải Đăng IOC",
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          60 * time.Second,
		IdleTimeout:           120 * time.Second,
		BodyLimit:             1 << 20,
		ErrorHandler:          s.errorHandler,
	})
	s.app.Get("/healthz", s.health)
	s.app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})))
	if src.CAP != nil {
		s.app.Get(alerts.CAPFeedPath, s.capFeed)
		s.app.Get("/cap/:doc", s.capDocument)
	}
	web, _ := fs.Sub(webFiles, "web")
	s.app.Use("/", filesystem.New(filesystem.Config{Root: http.FS(web), Index: "index.html"}))
	return s
}

// App gives tests the fiber app.
func (s *Server) App() *fiber.App { return s.app }

// Run listens until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		return fmt.Errorf("http: listen on %s: %w", s.listen, err)
	}
	s.log.Info("http listening", "addr", ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- s.app.Listener(ln) }() // owned here: Run waits for it below
	select {
	case err := <-served:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	if err := s.app.ShutdownWithTimeout(10 * time.Second); err != nil {
		s.log.Warn("http shutdown", "err", err)
	}
	<-served
	return nil
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

// health runs every check at once, each bounded in time; 200 when all are up, 503 otherwise.
func (s *Server) health(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 3*time.Second)
	defer cancel()
	ans := healthAnswer{Status: "ok", Version: s.version, Time: time.Now().UTC(), Checks: map[string]checkResult{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, chk := range s.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			err := chk.Checker.Check(ctx)
			r := checkResult{Status: "up", LatencyMS: float64(time.Since(start).Microseconds()) / 1000}
			if err != nil {
				r.Status, r.Error = "down", err.Error()
			}
			mu.Lock()
			ans.Checks[chk.Name] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	code := fiber.StatusOK
	for _, r := range ans.Checks {
		if r.Status != "up" {
			ans.Status, code = "degraded", fiber.StatusServiceUnavailable
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(code).JSON(ans)
}

// apiError is the JSON body of every error answer.
type apiError struct {
	Code      string `json:"code"`
	MessageVI string `json:"message_vi"`
	MessageEN string `json:"message_en"`
}

func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	code := fiber.StatusInternalServerError
	var fe *fiber.Error
	if errors.As(err, &fe) {
		code = fe.Code
	}
	body := apiError{Code: "internal", MessageVI: "Lỗi máy chủ", MessageEN: "server error"}
	switch code {
	case fiber.StatusNotFound:
		body = apiError{Code: "not_found", MessageVI: "Không tìm thấy", MessageEN: "not found"}
	case fiber.StatusMethodNotAllowed:
		body = apiError{Code: "method_not_allowed", MessageVI: "Phương thức không được phép", MessageEN: "method not allowed"}
	case fiber.StatusRequestEntityTooLarge:
		body = apiError{Code: "too_large", MessageVI: "Yêu cầu quá lớn", MessageEN: "request too large"}
	default:
		if code < 500 {
			body = apiError{Code: "bad_request", MessageVI: "Yêu cầu không hợp lệ", MessageEN: "bad request"}
		} else {
			s.log.Error("http handler", "path", c.Path(), "err", err)
		}
	}
	return c.Status(code).JSON(body)
}
