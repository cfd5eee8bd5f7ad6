package dashboard

import (
	"crypto/tls"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/proxy"
	"github.com/valyala/fasthttp"
)

// Leader tells where the alert engine that leads answers, when several processes run it with a
// lease (alerts.lease) or this process runs none: lease.Watcher, through cmd/ioc.
type Leader interface {
	// Leader returns the leading process's base URL, whether it is this process, and whether
	// a leader is known now.
	Leader() (url string, local, known bool)
}

// forwardTimeout bounds a request sent on to the leading process.
const forwardTimeout = 15 * time.Second

// errNoLeader answers an alert request while no process leads (an election under way) or the
// leader does not answer.
var errNoLeader = &apiError{Status: fiber.StatusServiceUnavailable, Code: "no_leader",
	MessageVI: "Không liên lạc được với tiến trình chủ trì bộ máy cảnh báo (có thể đang bầu chọn); hãy thử lại sau vài giây",
	MessageEN: "the process leading the alert engine cannot be reached (an election may be under way); try again in a few seconds"}

// newForwardClient is the client of the requests sent on to the leader, checking an https://
// leader with tc (nil: the system's roots).
func newForwardClient(tc *tls.Config) *fasthttp.Client {
	return &fasthttp.Client{TLSConfig: tc, NoDefaultUserAgentHeader: true, DisablePathNormalizing: true,
		ReadTimeout: forwardTimeout, WriteTimeout: forwardTimeout}
}

// forwarded reports whether the request went to the leading process, which answers it (the
// caller's token with it: the leader checks it and the role again, and keeps the audit); false
// means this process serves it. Without a Leader, the process serves what it runs.
func (s *Server) forwarded(c *fiber.Ctx) (bool, error) {
	if s.src.Leader == nil {
		return false, nil
	}
	url, local, known := s.src.Leader.Leader()
	switch {
	case local:
		return false, nil
	case !known:
		return true, errNoLeader
	}
	s.m.forwarded.Inc()
	// The Host the caller asked for goes on with it: the leader's links (the public warning
	// feed's) then name this server, not the leader's own address.
	c.Request().UseHostHeader = true
	if err := proxy.DoTimeout(c, url+c.OriginalURL(), forwardTimeout, s.forwardCli); err != nil {
		s.m.forwardFailed.Inc()
		s.log.Warn("an alert request was not answered by the leading process", "leader", url, "path", c.Path(), "err", err)
		return true, errNoLeader
	}
	c.Response().Header.Del(fiber.HeaderServer)
	return true, nil
}
