package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/streams/mediamtx"
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

// cameraLive gives a caller who may see the camera (seesCamera) a short-lived token to watch it.
func (s *Server) cameraLive(c *fiber.Ctx, p *auth.Principal) error {
	if s.opts.Video == nil {
		return &apiError{Status: fiber.StatusServiceUnavailable, Code: "no_video", MessageVI: "Chưa cấu hình máy chủ video (MediaMTX)",
			MessageEN: "no video server (MediaMTX) is configured: streams.mediamtx"}
	}
	id := c.Params("id")
	if !s.seesCamera(p, id) {
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

// seesCamera tells whether the catalog has camera id and p may see it: a unit sees the cameras
// of its units (the others are answered 404, as their alerts are).
func (s *Server) seesCamera(p *auth.Principal, id string) bool {
	if s.src.City == nil {
		return false
	}
	_, cams := s.src.City.Catalogs()
	if cams == nil {
		return false
	}
	cam := cams.Lookup(id)
	return cam != nil && p.Sees([]string{cam.OwnerUnit})
}

// videoAuth answers MediaMTX's external HTTP authentication: 200 when the reader's token opens
// the camera path it asks for, 401 otherwise (the reason logged, never the token).
func (s *Server) videoAuth(c *fiber.Ctx, _ *auth.Principal) error {
	if s.opts.Video == nil {
		return errUnavailable
	}
	var r mediamtx.AuthRequest
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
	if !s.seesCamera(p, id) {
		return errNotFound
	}
	if download && p.Role != auth.Admin && !(p.Role == auth.Unit && slices.Contains(p.Units, "police")) {
		return &apiError{Status: fiber.StatusForbidden, Code: "forbidden", MessageVI: "Chỉ công an và quản trị viên được tải đoạn ghi hình",
			MessageEN: "only the police and the administrators may download clips"}
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
