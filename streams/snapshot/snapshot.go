// Package snapshot fetches cameras' still pictures through ONVIF: the device service tells
// where the media service is (GetCapabilities), the media service names a profile
// (GetProfiles) and its snapshot address (GetSnapshotUri), and the snapshot is a JPEG fetched
// over HTTP with the camera's credentials (digest or basic authentication). The calls are
// authenticated with a WS-Security UsernameToken. Addresses are learnt once per camera and
// pictures kept for a few seconds, so a wall of viewers costs each camera one request.
//
// ioc decodes no video; a JPEG is only checked to be one (its header), never decoded.
package snapshot

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/haidang-ioc/ioc/internal/digest"
)

// Camera is a camera to ask: its ONVIF device service and credentials.
type Camera struct {
	ID string
	// Device is the ONVIF device service's address, such as http://10.0.0.7/onvif/device_service.
	Device         string
	User, Password string
}

// Still is a camera's picture and when it was taken (fetched).
type Still struct {
	JPEG  []byte
	Taken time.Time
}

// Client fetches stills; the zero value is not usable, see New.
type Client struct {
	http     *http.Client
	maxAge   time.Duration
	maxBytes int64

	mu     sync.Mutex
	stills map[string]Still  // by camera id
	uris   map[string]string // snapshot address by camera id and device (see key)
	group  singleflight.Group
	sem    chan struct{} // bounds the cameras asked at once
}

// Options tune a Client; zero fields take the defaults.
type Options struct {
	// Timeout bounds each request to a camera (default 5 s).
	Timeout time.Duration
	// MaxAge is how long a still is served before the camera is asked again (default 10 s).
	MaxAge time.Duration
	// MaxBytes bounds a JPEG (default 4 MiB).
	MaxBytes int64
	// Parallel bounds the cameras asked at once (default 8).
	Parallel int
}

// New makes a Client.
func New(o Options) *Client {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 10 * time.Second
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 4 << 20
	}
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	return &Client{
		http:   &http.Client{Timeout: o.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		maxAge: o.MaxAge, maxBytes: o.MaxBytes,
		stills: map[string]Still{}, uris: map[string]string{}, sem: make(chan struct{}, o.Parallel),
	}
}

// ErrNotAuthorized is a camera refusing the credentials.
var ErrNotAuthorized = errors.New("the camera refused the credentials")

// key tells the camera's snapshot address apart when its device or credentials change.
func key(cam Camera) string {
	return cam.ID + "\x00" + cam.Device + "\x00" + cam.User + "\x00" + cam.Password
}

// Still answers the camera's picture, at most MaxAge old. Errors name the camera and the
// step that failed, never its credentials.
func (c *Client) Still(ctx context.Context, cam Camera) (Still, bool, error) {
	c.mu.Lock()
	s, ok := c.stills[cam.ID]
	c.mu.Unlock()
	if ok && time.Since(s.Taken) < c.maxAge {
		return s, true, nil
	}
	v, err, _ := c.group.Do(cam.ID, func() (any, error) {
		select {
		case c.sem <- struct{}{}:
			defer func() { <-c.sem }()
		case <-ctx.Done():
			return Still{}, ctx.Err()
		}
		return c.fetch(ctx, cam)
	})
	if err != nil {
		return Still{}, false, fmt.Errorf("still of camera %s: %w", cam.ID, err)
	}
	return v.(Still), false, nil
}

func (c *Client) fetch(ctx context.Context, cam Camera) (Still, error) {
	k := key(cam)
	c.mu.Lock()
	uri := c.uris[k]
	c.mu.Unlock()
	if uri == "" {
		var err error
		if uri, err = c.snapshotURI(ctx, cam); err != nil {
			return Still{}, err
		}
	}
	img, err := c.get(ctx, cam, uri)
	if err != nil {
		c.mu.Lock()
		delete(c.uris, k) // learnt again next time: the camera may have changed
		c.mu.Unlock()
		return Still{}, err
	}
	s := Still{JPEG: img, Taken: time.Now()}
	c.mu.Lock()
	c.uris[k], c.stills[cam.ID] = uri, s
	c.mu.Unlock()
	return s, nil
}

// snapshotURI asks the camera where its snapshot is.
func (c *Client) snapshotURI(ctx context.Context, cam Camera) (string, error) {
	var caps struct {
		XAddr string `xml:"Body>GetCapabilitiesResponse>Capabilities>Media>XAddr"`
	}
	if err := c.call(ctx, cam, cam.Device, `<GetCapabilities xmlns="http://www.onvif.org/ver10/device/wsdl"><Category>Media</Category></GetCapabilities>`, "GetCapabilities", &caps); err != nil {
		return "", err
	}
	media, err := sameHost(cam.Device, caps.XAddr)
	if err != nil {
		return "", fmt.Errorf("ONVIF GetCapabilities: media service: %w", err)
	}
	var profiles struct {
		Profiles []struct {
			Token string `xml:"token,attr"`
		} `xml:"Body>GetProfilesResponse>Profiles"`
	}
	if err := c.call(ctx, cam, media, `<GetProfiles xmlns="http://www.onvif.org/ver10/media/wsdl"/>`, "GetProfiles", &profiles); err != nil {
		return "", err
	}
	if len(profiles.Profiles) == 0 || profiles.Profiles[0].Token == "" {
		return "", errors.New("ONVIF GetProfiles: the camera has no media profile")
	}
	var snap struct {
		URI string `xml:"Body>GetSnapshotUriResponse>MediaUri>Uri"`
	}
	var tok bytes.Buffer
	xml.EscapeText(&tok, []byte(profiles.Profiles[0].Token))
	body := `<GetSnapshotUri xmlns="http://www.onvif.org/ver10/media/wsdl"><ProfileToken>` + tok.String() + `</ProfileToken></GetSnapshotUri>`
	if err := c.call(ctx, cam, media, body, "GetSnapshotUri", &snap); err != nil {
		return "", err
	}
	uri, err := sameHost(cam.Device, snap.URI)
	if err != nil {
		return "", fmt.Errorf("ONVIF GetSnapshotUri: %w", err)
	}
	return uri, nil
}

// sameHost checks an address a camera gave: http(s), and on the camera's own host (a camera
// must not send ioc to fetch from elsewhere). Cameras behind address translation announce
// their inside address; it is rewritten to the host ioc reaches them at.
func sameHost(device, addr string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(addr))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("want an http(s) address, got %q", redact(addr))
	}
	d, err := url.Parse(device)
	if err != nil {
		return "", fmt.Errorf("device address: %w", err)
	}
	if u.Hostname() != d.Hostname() {
		port := u.Port()
		u.Host = d.Hostname()
		if port != "" {
			u.Host = net.JoinHostPort(d.Hostname(), port)
		}
	}
	u.User = nil
	return u.String(), nil
}

// redact leaves out an address's credentials.
func redact(addr string) string {
	if u, err := url.Parse(addr); err == nil && u.User != nil {
		u.User = nil
		return u.String()
	}
	return addr
}

// maxSOAP bounds a SOAP answer.
const maxSOAP = 256 << 10

// call makes one SOAP 1.2 call and reads the answer into out.
func (c *Client) call(ctx context.Context, cam Camera, addr, body, action string, out any) error {
	env := `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">` +
		securityHeader(cam.User, cam.Password, time.Now()) + `<s:Body>` + body + `</s:Body></s:Envelope>`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, addr, strings.NewReader(env))
	if err != nil {
		return fmt.Errorf("ONVIF %s: %w", action, err)
	}
	req.Header.Set("Content-Type", `application/soap+xml; charset=utf-8`)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("ONVIF %s: %w", action, unwrapURL(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxSOAP+1))
	if err != nil {
		return fmt.Errorf("ONVIF %s: read the answer: %w", action, err)
	}
	if len(data) > maxSOAP {
		return fmt.Errorf("ONVIF %s: answer over %d bytes", action, maxSOAP)
	}
	if resp.StatusCode != http.StatusOK {
		var fault struct {
			Text string `xml:"Body>Fault>Reason>Text"`
		}
		xml.Unmarshal(data, &fault)
		if resp.StatusCode == http.StatusUnauthorized || strings.Contains(strings.ToLower(fault.Text), "not authorized") {
			return fmt.Errorf("ONVIF %s: %w", action, ErrNotAuthorized)
		}
		return fmt.Errorf("ONVIF %s: HTTP %d: %s", action, resp.StatusCode, clip(fault.Text))
	}
	if err := xml.Unmarshal(data, out); err != nil {
		return fmt.Errorf("ONVIF %s: malformed answer: %w", action, err)
	}
	return nil
}

// unwrapURL drops *url.Error's "Post <address>:" prefix, which could name an address with
// credentials in it.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// securityHeader is a SOAP header with a WS-Security UsernameToken (password digest), or
// none without a user.
func securityHeader(user, password string, now time.Time) string {
	if user == "" {
		return ""
	}
	nonce := make([]byte, 16)
	rand.Read(nonce)
	created := now.UTC().Format("2006-01-02T15:04:05.000Z")
	var u bytes.Buffer
	xml.EscapeText(&u, []byte(user))
	const wsse = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-"
	return `<s:Header><Security s:mustUnderstand="1" xmlns="` + wsse + `wssecurity-secext-1.0.xsd"><UsernameToken><Username>` + u.String() +
		`</Username><Password Type="` + wsse + `username-token-profile-1.0#PasswordDigest">` + digest.PasswordDigest(nonce, created, password) +
		`</Password><Nonce EncodingType="` + wsse + `soap-message-security-1.0#Base64Binary">` + base64.StdEncoding.EncodeToString(nonce) +
		`</Nonce><Created xmlns="` + wsse + `wssecurity-utility-1.0.xsd">` + created + `</Created></UsernameToken></Security></s:Header>`
}

// get fetches the snapshot, answering a digest or basic challenge with the credentials.
func (c *Client) get(ctx context.Context, cam Camera, uri string) ([]byte, error) {
	resp, err := c.getWith(ctx, uri, "")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized && cam.User != "" {
		challenge := resp.Header.Get("WWW-Authenticate")
		resp.Body.Close()
		var auth string
		if strings.HasPrefix(strings.ToLower(challenge), "basic") {
			req, _ := http.NewRequest(http.MethodGet, uri, nil)
			req.SetBasicAuth(cam.User, cam.Password)
			auth = req.Header.Get("Authorization")
		} else {
			u, _ := url.Parse(uri)
			if auth, err = digest.Authorization(challenge, http.MethodGet, u.RequestURI(), cam.User, cam.Password); err != nil {
				return nil, fmt.Errorf("snapshot: %w", err)
			}
		}
		if resp, err = c.getWith(ctx, uri, auth); err != nil {
			return nil, err
		}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("snapshot: %w", ErrNotAuthorized)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("snapshot: HTTP %d", resp.StatusCode)
	}
	img, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("snapshot: read: %w", err)
	}
	if int64(len(img)) > c.maxBytes {
		return nil, fmt.Errorf("snapshot: over %d bytes", c.maxBytes)
	}
	if _, err := jpeg.DecodeConfig(bytes.NewReader(img)); err != nil {
		return nil, fmt.Errorf("snapshot: not a JPEG: %w", err)
	}
	return img, nil
}

func (c *Client) getWith(ctx context.Context, uri, auth string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", unwrapURL(err))
	}
	return resp, nil
}
