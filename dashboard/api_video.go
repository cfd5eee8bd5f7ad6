package dashboard

import (
	"encoding/json"
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

// cameraLive gives a caller who may see the camera a short-lived token to watch it: a unit
// sees the cameras of its units (404 for the others, as for their alerts).
func (s *Server) cameraLive(c *fiber.Ctx, p *auth.Principal) error {
	if s.opts.Video == nil {
		return &apiError{Status: fiber.StatusServiceUnavailable, Code: "no_video", MessageVI: "Chưa cấu hình máy chủ video (MediaMTX)",
			MessageEN: "no video server (MediaMTX) is configured: streams.mediamtx"}
	}
	id := c.Params("id")
	for _, ci := range s.cameraInfos() {
		if ci.ID != id {
			continue
		}
		if !p.Sees([]string{ci.Unit}) {
			return errNotFound
		}
		v := s.opts.Video
		tok, exp := v.Tokens.Issue(id, p.ID, v.TTL)
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
	return errNotFound
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
		if err != mediamtx.ErrNoCredentials {
			s.log.Info("video access refused", "path", r.Path, "action", r.Action, "protocol", r.Protocol, "ip", r.IP, "why", err)
		}
		return errUnauthenticated
	}
	s.m.videoAuth.WithLabelValues("allowed").Inc()
	s.log.Debug("video access", "path", r.Path, "protocol", r.Protocol, "subject", subject, "ip", r.IP)
	return c.SendStatus(fiber.StatusOK)
}
