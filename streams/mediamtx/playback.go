package mediamtx

import (
	"context"
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

// Clip opens the MP4 of camera's recording from start for d; the caller closes it.
func (p *Playback) Clip(ctx context.Context, camera string, start time.Time, d time.Duration) (io.ReadCloser, error) {
	if d <= 0 || d > MaxClip {
		return nil, fmt.Errorf("clip of %s: want a length up to %s", d, MaxClip)
	}
	q := url.Values{"path": {PathOf(camera)}, "start": {start.UTC().Format(time.RFC3339Nano)},
		"duration": {strconv.FormatFloat(d.Seconds(), 'f', -1, 64)}, "format": {"mp4"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(p.Base, "/")+"/get?"+q.Encode(), nil)
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
		return resp.Body, nil
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%w for camera %s from %s for %s: %s", ErrNoRecording, camera, start.UTC().Format(time.RFC3339), d, strings.TrimSpace(string(msg)))
	}
	return nil, fmt.Errorf("mediamtx playback answered %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
}
