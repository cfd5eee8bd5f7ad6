package dashboard

import (
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/haidang-ioc/ioc/alerts"
)

// The public warning feed is public by design: it is what other systems (broadcasters, the
// national warning system, apps) read without an account, so it asks for no token. It holds
// only what rules marked public put on it.

// capFeed serves the Atom feed of public warnings, its links absolute on this server.
func (s *Server) capFeed(c *fiber.Ctx) error {
	if done, err := s.forwarded(c); done {
		return err
	}
	body, err := s.src.CAP.Atom(c.BaseURL())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/atom+xml; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "public, max-age=30")
	return c.Send(body)
}

// capDocument serves one CAP 1.2 message, /cap/<identifier>.xml.
func (s *Server) capDocument(c *fiber.Ctx) error {
	if done, err := s.forwarded(c); done {
		return err
	}
	name, ok := strings.CutSuffix(c.Params("doc"), ".xml")
	id, err := url.PathUnescape(name)
	if !ok || err != nil || id == "" {
		return fiber.ErrNotFound
	}
	body, err := s.src.CAP.Document(c.UserContext(), id)
	switch {
	case errors.Is(err, alerts.ErrNotFound):
		return fiber.ErrNotFound
	case err != nil:
		return err
	}
	c.Set(fiber.HeaderContentType, "application/cap+xml; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.Send(body)
}
