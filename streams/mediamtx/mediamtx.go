// Package mediamtx keeps a MediaMTX server's paths in step with the camera catalog through
// MediaMTX's control API (v3), so that MediaMTX re-streams every catalog camera to browsers
// (WebRTC, low-latency HLS) while ioc itself never decodes video. Each camera is the path
// PathPrefix + its id, pulled from the camera on demand (only while someone watches); the
// camera's address and password go to MediaMTX, never to a browser. Paths without the prefix
// belong to someone else and are left alone.
package mediamtx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/streams"
)

// PathPrefix starts the name of every path ioc manages.
const PathPrefix = "cam/"

// PathOf is the MediaMTX path of camera id.
func PathOf(id string) string { return PathPrefix + id }

// PathConf is the part of a MediaMTX path configuration ioc sets.
type PathConf struct {
	Name           string `json:"name,omitempty"`
	Source         string `json:"source"`
	SourceOnDemand bool   `json:"sourceOnDemand"`
	// SourceOnDemandCloseAfter is how long the camera stays pulled after the last viewer left.
	SourceOnDemandCloseAfter string `json:"sourceOnDemandCloseAfter,omitempty"`
	// SourceOnDemandStartTimeout is how long a reader waits for the camera to answer.
	SourceOnDemandStartTimeout string `json:"sourceOnDemandStartTimeout,omitempty"`
	RTSPTransport              string `json:"rtspTransport,omitempty"`
	// Record has MediaMTX record the path, in segments of RecordSegmentDuration deleted after
	// RecordDeleteAfter.
	Record                bool   `json:"record"`
	RecordSegmentDuration string `json:"recordSegmentDuration,omitempty"`
	RecordDeleteAfter     string `json:"recordDeleteAfter,omitempty"`
}

// same tells whether a and b set the same things (durations compared as durations; the
// recording's only when recording).
func (a PathConf) same(b PathConf) bool {
	dur := func(x, y string) bool {
		dx, ex := time.ParseDuration(x)
		dy, ey := time.ParseDuration(y)
		return x == y || (ex == nil && ey == nil && dx == dy)
	}
	return a.Source == b.Source && a.SourceOnDemand == b.SourceOnDemand && a.RTSPTransport == b.RTSPTransport &&
		dur(a.SourceOnDemandCloseAfter, b.SourceOnDemandCloseAfter) && dur(a.SourceOnDemandStartTimeout, b.SourceOnDemandStartTimeout) &&
		a.Record == b.Record && (!a.Record || dur(a.RecordSegmentDuration, b.RecordSegmentDuration) && dur(a.RecordDeleteAfter, b.RecordDeleteAfter))
}

// Client calls MediaMTX's control API.
type Client struct {
	// Base is the API's address, such as http://127.0.0.1:9997.
	Base string
	// User and Password, when MediaMTX asks the API's callers for them.
	User, Password string
	HTTP           *http.Client
}

// APIError is an answer of the control API that is not a success.
type APIError struct {
	Status int
	Msg    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("MediaMTX API answered %d: %s", e.Status, e.Msg)
}

func (c *Client) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.Base, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("mediamtx: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.User != "" {
		req.SetBasicAuth(c.User, c.Password)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("mediamtx %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("mediamtx %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		return fmt.Errorf("mediamtx %s %s: %w", method, path, &APIError{Status: resp.StatusCode, Msg: e.Error})
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("mediamtx %s %s: %w", method, path, err)
		}
	}
	return nil
}

// Paths returns the configured paths, by name.
func (c *Client) Paths(ctx context.Context) (map[string]PathConf, error) {
	out := map[string]PathConf{}
	for page := 0; ; page++ {
		var list struct {
			PageCount int        `json:"pageCount"`
			Items     []PathConf `json:"items"`
		}
		if err := c.do(ctx, http.MethodGet, fmt.Sprintf("/v3/config/paths/list?page=%d&itemsPerPage=1000", page), nil, &list); err != nil {
			return nil, err
		}
		for _, p := range list.Items {
			out[p.Name] = p
		}
		if page+1 >= list.PageCount {
			return out, nil
		}
	}
}

// Add configures a new path.
func (c *Client) Add(ctx context.Context, name string, p PathConf) error {
	return c.do(ctx, http.MethodPost, "/v3/config/paths/add/"+escape(name), p, nil)
}

// Replace sets a path's whole configuration.
func (c *Client) Replace(ctx context.Context, name string, p PathConf) error {
	return c.do(ctx, http.MethodPost, "/v3/config/paths/replace/"+escape(name), p, nil)
}

// Delete removes a path.
func (c *Client) Delete(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v3/config/paths/delete/"+escape(name), nil, nil)
}

// escape keeps a path name's slashes: MediaMTX's routes take them as they are.
func escape(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// Syncer keeps MediaMTX's paths in step with the camera catalog: a path for each camera,
// added, changed and removed as the catalog is.
type Syncer struct {
	c   *Client
	m   *metrics
	log *slog.Logger
}

// NewSyncer returns a Syncer over the client.
func NewSyncer(c *Client, reg prometheus.Registerer, log *slog.Logger) *Syncer {
	return &Syncer{c: c, m: newMetrics(reg), log: log}
}

// Want is the path configuration of a camera: pulled over RTSP on TCP while watched, kept a
// little after the last viewer leaves; a camera that does not answer within 5 s fails the
// reader (the wall says so rather than wait). A camera recorded is pulled all the time.
func Want(cam *streams.Camera) PathConf {
	p := PathConf{Source: cam.DialURL(), SourceOnDemand: true, SourceOnDemandCloseAfter: "10s", SourceOnDemandStartTimeout: "5s", RTSPTransport: "tcp"}
	if r := cam.Record; r != nil {
		p.SourceOnDemand, p.Record = false, true
		p.RecordSegmentDuration, p.RecordDeleteAfter = r.Segment.String(), r.Retention.String()
	}
	return p
}

// Result counts what a sync changed.
type Result struct{ Added, Changed, Removed, Kept int }

// Sync makes MediaMTX's managed paths those of cams: every camera's path added or brought up
// to date, every managed path of no camera removed. It goes on past a failing path and returns
// the failures joined.
func (s *Syncer) Sync(ctx context.Context, cams []streams.Camera) (Result, error) {
	var r Result
	have, err := s.c.Paths(ctx)
	if err != nil {
		s.m.errors.Inc()
		return r, err
	}
	var errs []error
	fail := func(err error) {
		s.m.errors.Inc()
		errs = append(errs, err)
	}
	want := map[string]bool{}
	for i := range cams {
		cam := &cams[i]
		name, p := PathOf(cam.ID), Want(cam)
		want[name] = true
		cur, ok := have[name]
		switch {
		case !ok:
			if err := s.c.Add(ctx, name, p); err != nil {
				fail(fmt.Errorf("camera %s: %w", cam.ID, err))
				continue
			}
			r.Added++
		case !cur.same(p):
			if err := s.c.Replace(ctx, name, p); err != nil {
				fail(fmt.Errorf("camera %s: %w", cam.ID, err))
				continue
			}
			r.Changed++
		default:
			r.Kept++
		}
	}
	names := make([]string, 0, len(have))
	for name := range have {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !strings.HasPrefix(name, PathPrefix) || want[name] {
			continue
		}
		if err := s.c.Delete(ctx, name); err != nil {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
				fail(err)
				continue
			}
		}
		r.Removed++
	}
	s.m.changes.WithLabelValues("added").Add(float64(r.Added))
	s.m.changes.WithLabelValues("changed").Add(float64(r.Changed))
	s.m.changes.WithLabelValues("removed").Add(float64(r.Removed))
	s.m.paths.Set(float64(len(want)))
	if r.Added+r.Changed+r.Removed > 0 || len(errs) > 0 {
		s.log.Info("MediaMTX paths synced with the camera catalog", "added", r.Added, "changed", r.Changed, "removed", r.Removed, "kept", r.Kept, "failed", len(errs))
	}
	return r, errors.Join(errs...)
}

// Run syncs at once, then again every interval and whenever reload sends a catalog, until ctx
// ends; a MediaMTX that does not answer is retried at the next interval (logged once a
// failure starts).
func (s *Syncer) Run(ctx context.Context, cams []streams.Camera, reload <-chan []streams.Camera, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		_, err := s.Sync(ctx, cams)
		switch {
		case err != nil && !failing:
			s.log.Warn("MediaMTX paths not in step with the camera catalog; retrying", "err", err, "every", interval)
		case err == nil && failing:
			s.log.Info("MediaMTX paths in step again")
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case cams = <-reload:
		}
	}
}

type metrics struct {
	changes *prometheus.CounterVec
	errors  prometheus.Counter
	paths   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_mediamtx_path_changes_total", Help: "MediaMTX paths added, changed and removed to follow the camera catalog."}, []string{"change"}),
		errors:  prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_mediamtx_sync_errors_total", Help: "Failed calls of MediaMTX's control API while syncing the paths."}),
		paths:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "ioc_mediamtx_paths", Help: "Cameras MediaMTX re-streams for ioc."}),
	}
	if reg != nil {
		reg.MustRegister(m.changes, m.errors, m.paths)
	}
	return m
}
