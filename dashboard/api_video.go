package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/streams"
	"github.com/haidang-ioc/ioc/streams/mediamtx"
	"github.com/haidang-ioc/ioc/streams/snapshot"
)

// LiveAnswer opens one camera's live video: MediaMTX's path, the token to show it (as the
// bearer token of WHEP, ?token= of HLS, or the RTSP password), when the token ends, and the
// WHEP and HLS addresses when configured. No camera address or password is in it.
type LiveAnswer struct {
	Camera    string    `json:"camera"`
	Path      string    `json:"path"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	WHEPURL   string    `json:"whep_url,omitempty"`
	HLSURL    string    `json:"hls_url,omitempty"`
}

// cameraLive gives a caller who may see the camera (seenCamera) a short-lived token to watch it.
func (s *Server) cameraLive(c *fiber.Ctx, p *auth.Principal) error {
	if s.opts.Video == nil {
		return &apiError{Status: fiber.StatusServiceUnavailable, Code: "no_video", MessageVI: "Chưa cấu hình máy chủ video (MediaMTX)",
			MessageEN: "no video server (MediaMTX) is configured: streams.mediamtx"}
	}
	id := c.Params("id")
	if s.seenCamera(p, id) == nil {
		return errNotFound
	}
	v := s.opts.Video
	tok, exp := v.Tokens.Issue(id, p.ID, mediamtx.ActionRead, v.TTL)
	out := LiveAnswer{Camera: id, Path: mediamtx.PathOf(id), Token: tok, ExpiresAt: exp}
	if v.WebRTCURL != "" {
		out.WHEPURL = strings.TrimSuffix(v.WebRTCURL, "/") + "/" + out.Path + "/whep"
	}
	if v.HLSURL != "" {
		out.HLSURL = strings.TrimSuffix(v.HLSURL, "/") + "/" + out.Path + "/index.m3u8"
	}
	s.m.videoTokens.Inc()
	return c.JSON(out)
}

// seenCamera is camera id of the catalog when p may see it, else nil: a unit sees the cameras
// of its units (the others are answered 404, as their alerts are).
func (s *Server) seenCamera(p *auth.Principal, id string) *streams.Camera {
	if s.src.City == nil {
		return nil
	}
	_, cams := s.src.City.Catalogs()
	if cams == nil {
		return nil
	}
	if cam := cams.Lookup(id); cam != nil && p.Sees([]string{cam.OwnerUnit}) {
		return cam
	}
	return nil
}

// stillSource is where a camera's still comes from: onvif, recording, or "" for none.
func (s *Server) stillSource(cam *streams.Camera) string {
	switch {
	case cam.ONVIF != "" && s.opts.Stills != nil:
		return "onvif"
	case s.recorded(cam):
		return "recording"
	}
	return ""
}

// recorded tells whether MediaMTX records cam for ioc (its clips can be played).
func (s *Server) recorded(cam *streams.Camera) bool {
	return cam.Record != nil && s.opts.Video != nil && s.opts.Video.Playback != nil
}

// cameraStill answers a camera's picture now: a JPEG from the camera's ONVIF snapshot, else
// the last second recorded (MP4) from MediaMTX's playback; 404 no_still for a camera with
// neither. The camera's credentials stay in ioc.
func (s *Server) cameraStill(c *fiber.Ctx, p *auth.Principal) error {
	cam := s.seenCamera(p, c.Params("id"))
	if cam == nil {
		return errNotFound
	}
	c.Set(fiber.HeaderCacheControl, "private, max-age=10")
	switch s.stillSource(cam) {
	case "onvif":
		user, password := cam.Credentials()
		still, cached, err := s.opts.Stills.Still(c.UserContext(), snapshot.Camera{ID: cam.ID, Device: cam.ONVIF, User: user, Password: password})
		if err != nil {
			s.m.stills.WithLabelValues("onvif", "failed").Inc()
			return &apiError{Status: fiber.StatusBadGateway, Code: "still_failed", MessageVI: "Camera không gửi được ảnh tĩnh",
				MessageEN: "the camera gave no still picture", Detail: err.Error()}
		}
		s.m.stills.WithLabelValues("onvif", map[bool]string{true: "cached", false: "fetched"}[cached]).Inc()
		c.Set(fiber.HeaderLastModified, still.Taken.UTC().Format(http.TimeFormat))
		c.Set(fiber.HeaderContentType, "image/jpeg")
		return c.Send(still.JPEG)
	case "recording":
		var body io.ReadCloser
		at, err := s.opts.Video.Playback.LastRecorded(c.UserContext(), cam.ID)
		if err == nil {
			body, err = s.opts.Video.Playback.Clip(c.UserContext(), cam.ID, at.Add(-time.Second), time.Second)
		}
		if err != nil {
			s.m.stills.WithLabelValues("recording", "failed").Inc()
			return &apiError{Status: fiber.StatusBadGateway, Code: "still_failed", MessageVI: "Không lấy được ảnh từ bản ghi của camera",
				MessageEN: "no picture from the camera's recording", Detail: err.Error()}
		}
		s.m.stills.WithLabelValues("recording", "fetched").Inc()
		c.Set(fiber.HeaderLastModified, at.UTC().Format(http.TimeFormat))
		c.Set(fiber.HeaderContentType, "video/mp4")
		return c.SendStream(body)
	}
	return &apiError{Status: fiber.StatusNotFound, Code: "no_still", MessageVI: "Camera không có ảnh tĩnh (không có ONVIF và không được ghi hình)",
		MessageEN: "the camera has no still picture: no ONVIF device service in the catalog, and it is not recorded"}
}

// videoAuth answers MediaMTX's external HTTP authentication: 200 when the reader's token opens
// the camera path it asks for, 401 otherwise (the reason logged, never the token).
func (s *Server) videoAuth(c *fiber.Ctx, _ *auth.Principal) error {
	if s.opts.Video == nil {
		return errUnavailable
	}
	var r mediamtx.AuthRequest
	if len(c.Body()) > maxBody { // a public route: the body limit is a citizen report's when they are served
		return fiber.ErrRequestEntityTooLarge
	}
	if err := json.Unmarshal(c.Body(), &r); err != nil {
		s.m.videoAuth.WithLabelValues("malformed").Inc()
		return errBadRequest("bad_auth_request", "want MediaMTX's authentication request (JSON)")
	}
	subject, err := s.opts.Video.Tokens.Allow(r)
	if err != nil {
		s.m.videoAuth.WithLabelValues("refused").Inc()
		if !errors.Is(err, mediamtx.ErrNoCredentials) {
			s.log.Info("video access refused", "path", r.Path, "action", r.Action, "protocol", r.Protocol, "ip", r.IP, "why", err)
		}
		return errUnauthenticated
	}
	s.m.videoAuth.WithLabelValues("allowed").Inc()
	s.log.Debug("video access", "path", r.Path, "protocol", r.Protocol, "subject", subject, "ip", r.IP)
	return c.SendStatus(fiber.StatusOK)
}

var clipParams = []param{
	{name: "start", typ: "date-time", desc: "the clip's start (RFC 3339)"},
	{name: "duration", typ: "integer", desc: "its length in seconds, 1-600 (default 60)"},
}

// clip answers a recorded clip of a camera the caller may see, as MP4 (MediaMTX's playback,
// fetched by ioc: the browser never reaches MediaMTX); download saves it and is for the
// police and the administrators, each download audited.
func (s *Server) clip(c *fiber.Ctx, p *auth.Principal, download bool) error {
	if s.opts.Video == nil || s.opts.Video.Playback == nil {
		return &apiError{Status: fiber.StatusServiceUnavailable, Code: "no_recordings", MessageVI: "Chưa cấu hình máy chủ lưu video",
			MessageEN: "no recording server is configured: streams.mediamtx.playback_url"}
	}
	id := c.Params("id")
	if s.seenCamera(p, id) == nil {
		return errNotFound
	}
	if download && p.Role != auth.Admin && !(p.Role == auth.Unit && slices.ContainsFunc(p.Units, func(u string) bool { return slices.Contains(s.opts.Video.DownloadUnits, u) })) {
		return &apiError{Status: fiber.StatusForbidden, Code: "forbidden", MessageVI: "Chỉ quản trị viên và các đơn vị được phép (" + strings.Join(s.opts.Video.DownloadUnits, ", ") + ") được tải đoạn ghi hình",
			MessageEN: "only the administrators and the units allowed (streams.mediamtx.clip_download_units: " + strings.Join(s.opts.Video.DownloadUnits, ", ") + ") may download clips"}
	}
	start, err := queryTime(c, "start", time.Time{})
	if err != nil {
		return err
	}
	if start.IsZero() {
		return errBadRequest("bad_parameter", "start: the clip's start (RFC 3339) is required")
	}
	secs := c.QueryInt("duration", 60)
	if secs < 1 || secs > int(mediamtx.MaxClip.Seconds()) {
		return errBadRequest("bad_parameter", "duration: want 1 to 600 seconds")
	}
	body, err := s.opts.Video.Playback.Clip(c.UserContext(), id, start, time.Duration(secs)*time.Second)
	if errors.Is(err, mediamtx.ErrNoRecording) {
		return &apiError{Status: fiber.StatusNotFound, Code: "no_recording", MessageVI: "Không có đoạn ghi hình trong khoảng thời gian này (ngoài thời hạn lưu giữ, hoặc camera không được ghi)",
			MessageEN: "no recording at that time (outside the retention, or the camera is not recorded)", Detail: err.Error()}
	}
	if err != nil {
		return err
	}
	noteAudit(c, fmt.Sprintf("%s %s %ds", id, start.UTC().Format(time.RFC3339), secs))
	c.Set(fiber.HeaderContentType, "video/mp4")
	if download {
		c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-%s.mp4"`, id, start.UTC().Format("20060102T150405Z")))
	}
	return c.SendStream(body)
}

func (s *Server) playClip(c *fiber.Ctx, p *auth.Principal) error     { return s.clip(c, p, false) }
func (s *Server) downloadClip(c *fiber.Ctx, p *auth.Principal) error { return s.clip(c, p, true) }

// CameraEventSource reads a camera's stored analytics events (analytics.Querier).
type CameraEventSource interface {
	CameraEvents(ctx context.Context, camera string, from, to time.Time, kinds []string, limit int) ([]streams.CameraEvent, error)
}

// CameraEventInfo is one analytics event of a camera, with the address of its evidence clip
// (from 30 s before to 30 s after) when the camera is recorded.
type CameraEventInfo struct {
	Time        time.Time `json:"time"`
	Source      string    `json:"source"`
	Kind        string    `json:"kind"`
	Topic       string    `json:"topic,omitempty"`
	Rule        string    `json:"rule,omitempty"`
	State       string    `json:"state,omitempty"`
	ObjectClass string    `json:"object_class,omitempty"`
	ObjectID    string    `json:"object_id,omitempty"`
	Plate       string    `json:"plate,omitempty"`
	Score       float64   `json:"score,omitempty"`
	Count       int64     `json:"count,omitempty"`
	// Clip is the API path of the recorded clip around the event, when there is a recording.
	Clip string `json:"clip,omitempty"`
}

var cameraEventParams = []param{
	{name: "from", typ: "date-time", desc: "from (RFC 3339; default a day ago)"},
	{name: "to", typ: "date-time", desc: "to (RFC 3339; default now)"},
	{name: "kind", typ: "string", desc: "event kinds, comma-separated: " + strings.Join(streams.EventKinds, ", ")},
	{name: "limit", typ: "integer", desc: "events, newest first, 1-1000 (default 100)"},
}

// clipAround is the window of a camera event's or alert's evidence clip.
const clipAround = 30 * time.Second

// cameraEvents lists a camera's stored analytics events, newest first, each with its clip.
func (s *Server) cameraEvents(c *fiber.Ctx, p *auth.Principal) error {
	if s.src.CameraEvents == nil {
		return errUnavailable
	}
	cam := s.seenCamera(p, c.Params("id"))
	if cam == nil {
		return errNotFound
	}
	now := s.opts.Clock().UTC()
	from, to, err := queryRange(c, now, 24*time.Hour)
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", 100, 1, analytics.MaxCameraEvents)
	if err != nil {
		return err
	}
	evs, err := s.src.CameraEvents.CameraEvents(c.UserContext(), cam.ID, from, to, queryList(c, "kind"), limit)
	if err != nil {
		return queryFailed(err)
	}
	recorded := s.recorded(cam)
	out := make([]CameraEventInfo, len(evs))
	for i, e := range evs {
		out[i] = CameraEventInfo{Time: e.Time, Source: e.Source, Kind: string(e.Kind), Topic: e.Topic, Rule: e.Rule, State: e.State,
			ObjectClass: e.ObjectClass, ObjectID: e.ObjectID, Plate: e.Plate, Score: e.Score, Count: e.Count}
		if recorded {
			out[i].Clip = fmt.Sprintf("%s/cameras/%s/clip?start=%s&duration=%d", APIPrefix, url.PathEscape(cam.ID),
				url.QueryEscape(e.Time.Add(-clipAround).Format(time.RFC3339)), int(2*clipAround/time.Second))
		}
	}
	return c.JSON(Page[CameraEventInfo]{Items: out, Total: len(out), Limit: limit})
}
