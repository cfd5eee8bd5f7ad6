package mediamtx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Playback fetches recorded clips from MediaMTX's playback server, with a token of ioc's own
// (ActionPlayback) that MediaMTX checks through ioc's authentication like any reader's.
type Playback struct {
	// Base is the playback server, such as http://127.0.0.1:9996 (never given to browsers).
	Base   string
	Tokens *Tokens
	HTTP   *http.Client
}

// ErrNoRecording is a clip asked for where MediaMTX holds no recording (outside the
// retention, before the recording started, a camera not recorded).
var ErrNoRecording = errors.New("no recording")

// MaxClip bounds a clip's length.
const MaxClip = 10 * time.Minute

// span is one stretch of recording MediaMTX's /list answers.
type span struct {
	Start    time.Time `json:"start"`
	Duration float64   `json:"duration"`
}

func (s span) end() time.Time { return s.Start.Add(time.Duration(s.Duration * float64(time.Second))) }

// spans lists camera's recorded stretches.
func (p *Playback) spans(ctx context.Context, camera string) ([]span, error) {
	resp, err := p.get(ctx, camera, "/list", url.Values{"path": {PathOf(camera)}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out []span
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&out); err != nil {
		return nil, fmt.Errorf("mediamtx playback list: %w", err)
	}
	return out, nil
}

// LastRecorded is the end of camera's recording as MediaMTX has it on disk (its /list of
// recorded spans); ErrNoRecording when it holds none.
func (p *Playback) LastRecorded(ctx context.Context, camera string) (time.Time, error) {
	spans, err := p.spans(ctx, camera)
	if err != nil {
		return time.Time{}, err
	}
	var end time.Time
	for _, s := range spans {
		if e := s.end(); e.After(end) {
			end = e
		}
	}
	if end.IsZero() {
		return time.Time{}, fmt.Errorf("%w for camera %s", ErrNoRecording, camera)
	}
	return end, nil
}

// minOverlap is how much of a clip's window must be recorded for MediaMTX to be asked for it:
// a few frames.
const minOverlap = 100 * time.Millisecond

// Clip opens the MP4 of camera's recording from start for d; the caller closes it (the part of
// the window that is recorded). A window its /list shows no recording in (less than
// minOverlap) is ErrNoRecording without asking for it: MediaMTX v1.15.3's playback server
// crashes on a window that holds no sample (a nil pointer in its MP4 muxer, which takes the
// whole server down).
func (p *Playback) Clip(ctx context.Context, camera string, start time.Time, d time.Duration) (io.ReadCloser, error) {
	if d <= 0 || d > MaxClip {
		return nil, fmt.Errorf("clip of %s: want a length up to %s", d, MaxClip)
	}
	spans, err := p.spans(ctx, camera)
	if err != nil {
		return nil, err
	}
	end, recorded := start.Add(d), time.Duration(0)
	for _, s := range spans {
		if from, to := maxTime(s.Start, start), minTime(s.end(), end); to.After(from) {
			recorded += to.Sub(from)
		}
	}
	if recorded < min(minOverlap, d) {
		return nil, fmt.Errorf("%w for camera %s from %s for %s", ErrNoRecording, camera, start.UTC().Format(time.RFC3339), d)
	}
	q := url.Values{"path": {PathOf(camera)}, "start": {start.UTC().Format(time.RFC3339Nano)},
		"duration": {strconv.FormatFloat(d.Seconds(), 'f', -1, 64)}, "format": {"mp4"}}
	resp, err := p.get(ctx, camera, "/get", q)
	if err != nil {
		if errors.Is(err, ErrNoRecording) {
			return nil, fmt.Errorf("%w from %s for %s", err, start.UTC().Format(time.RFC3339), d)
		}
		return nil, err
	}
	return resp.Body, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// get asks the playback server for what of camera, with a playback token of ioc's own; an
// answer other than 200 is an error (404: ErrNoRecording).
func (p *Playback) get(ctx context.Context, camera, what string, q url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(p.Base, "/")+what+"?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("mediamtx playback: %w", err)
	}
	tok, _ := p.Tokens.Issue(camera, "ioc", ActionPlayback, time.Minute)
	req.SetBasicAuth("ioc", tok)
	hc := p.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mediamtx playback: %w", err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%w for camera %s: %s", ErrNoRecording, camera, strings.TrimSpace(string(msg)))
	}
	return nil, fmt.Errorf("mediamtx playback answered %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
}
