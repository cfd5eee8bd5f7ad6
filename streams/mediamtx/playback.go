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

// LastRecorded is the end of camera's recording as MediaMTX has it on disk (its /list of
// recorded spans); ErrNoRecording when it holds none.
func (p *Playback) LastRecorded(ctx context.Context, camera string) (time.Time, error) {
	resp, err := p.get(ctx, camera, "/list", url.Values{"path": {PathOf(camera)}})
	if err != nil {
		return time.Time{}, err
	}
	defer resp.Body.Close()
	var spans []struct {
		Start    time.Time `json:"start"`
		Duration float64   `json:"duration"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&spans); err != nil {
		return time.Time{}, fmt.Errorf("mediamtx playback list: %w", err)
	}
	var end time.Time
	for _, s := range spans {
		if e := s.Start.Add(time.Duration(s.Duration * float64(time.Second))); e.After(end) {
			end = e
		}
	}
	if end.IsZero() {
		return time.Time{}, fmt.Errorf("%w for camera %s", ErrNoRecording, camera)
	}
	return end, nil
}

// Clip opens the MP4 of camera's recording from start for d; the caller closes it.
func (p *Playback) Clip(ctx context.Context, camera string, start time.Time, d time.Duration) (io.ReadCloser, error) {
	if d <= 0 || d > MaxClip {
		return nil, fmt.Errorf("clip of %s: want a length up to %s", d, MaxClip)
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
