package dashboard

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/internal/config"
)

// KeyStore keeps the API keys made, rotated and revoked through the API (analytics.KeyStore).
type KeyStore interface {
	Put(ctx context.Context, k analytics.KeyRow) error
	All(ctx context.Context) ([]analytics.KeyRow, error)
}

// KeyInfo is a key as the API lists it: never its token.
type KeyInfo struct {
	auth.Key
	Status string `json:"status"`
}

// KeyBody makes a key.
type KeyBody struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Role  string   `json:"role"`
	Units []string `json:"units,omitempty"`
	// ExpiresInDays is how long the key lives: 1 to 366 days, 90 when left out.
	ExpiresInDays int `json:"expires_in_days,omitempty"`
}

// NewKeyAnswer carries the token of a made or rotated key: shown once, kept nowhere.
type NewKeyAnswer struct {
	Key   KeyInfo `json:"key"`
	Token string  `json:"token"`
}

var keyID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{1,62}$`)

const (
	defaultKeyDays = 90
	maxKeyDays     = 366
)

func (s *Server) keyInfo(k auth.Key) KeyInfo { return KeyInfo{Key: k, Status: k.Status(time.Now())} }

func (s *Server) listKeys(c *fiber.Ctx, _ *auth.Principal) error {
	out := []KeyInfo{}
	for _, k := range s.auth.Keys() {
		out = append(out, s.keyInfo(k))
	}
	return c.JSON(out)
}

func (s *Server) createKey(c *fiber.Ctx, p *auth.Principal) error {
	if s.src.Keys == nil {
		return errUnavailable
	}
	var b KeyBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	noteAudit(c, fmt.Sprintf("key %s, role %s, units %v", b.ID, b.Role, b.Units))
	if b.ExpiresInDays == 0 {
		b.ExpiresInDays = defaultKeyDays
	}
	switch {
	case !keyID.MatchString(b.ID):
		return errBadRequest("bad_key", "id: want 2 to 63 of a-z, 0-9, - and _, starting with a letter or digit")
	case b.Name == "":
		return errMissingField("name")
	case !slices.Contains(auth.Roles, auth.Role(b.Role)):
		return errBadRequest("bad_key", fmt.Sprintf("role: want one of %v", auth.Roles))
	case (b.Role == string(auth.Unit)) != (len(b.Units) > 0):
		return errBadRequest("bad_key", "units: a unit key names its units, other roles none")
	case b.Role == string(auth.Partner): // a partner's scope is reviewed in the config file, not granted by a call
		return errBadRequest("bad_key", "role: partner keys are made in http.auth.api_keys, with the entity types and districts they read")
	case b.ExpiresInDays < 1 || b.ExpiresInDays > maxKeyDays:
		return errBadRequest("bad_key", fmt.Sprintf("expires_in_days: want 1 to %d", maxKeyDays))
	}
	for _, u := range b.Units {
		if _, ok := config.Units[u]; !ok {
			return errBadRequest("bad_key", "units: unknown unit "+u)
		}
	}
	if _, exists := s.auth.Lookup(b.ID); exists {
		return &apiError{Status: fiber.StatusConflict, Code: "exists", MessageVI: "Mã khóa đã tồn tại", MessageEN: "a key with this id exists", Detail: b.ID}
	}
	now := time.Now().UTC()
	k := auth.Key{ID: b.ID, Name: b.Name, Role: auth.Role(b.Role), Units: b.Units, Source: auth.SourceAPI,
		Created: now, CreatedBy: p.ID, Expires: now.Add(time.Duration(b.ExpiresInDays) * 24 * time.Hour)}
	token, err := s.putKey(c.UserContext(), k, true)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(NewKeyAnswer{Key: s.keyInfo(k), Token: token})
}

// rotateKey gives a key made through the API a new token (the old one stops at once) and a new
// lifetime as long as its first.
func (s *Server) rotateKey(c *fiber.Ctx, p *auth.Principal) error {
	if s.src.Keys == nil {
		return errUnavailable
	}
	k, ok := s.auth.Lookup(c.Params("id"))
	switch {
	case !ok:
		return errNotFound
	case k.Source == auth.SourceConfig:
		return &apiError{Status: fiber.StatusConflict, Code: "config_key", MessageVI: "Khóa trong tệp cấu hình: tạo khóa mới bằng `ioc token` và sửa tệp", MessageEN: "a key of the config file: make a new one with `ioc token` and edit the file (it can be revoked here)"}
	case k.Status(time.Now()) == "revoked":
		return &apiError{Status: fiber.StatusConflict, Code: "revoked", MessageVI: "Khóa đã bị thu hồi", MessageEN: "the key is revoked"}
	}
	now := time.Now().UTC()
	life := k.Expires.Sub(k.Created)
	k.Created, k.CreatedBy, k.Expires = now, p.ID, now.Add(life)
	token, err := s.putKey(c.UserContext(), k, true)
	if err != nil {
		return err
	}
	return c.JSON(NewKeyAnswer{Key: s.keyInfo(k), Token: token})
}

// revokeKey stops a key at once, whichever its source.
func (s *Server) revokeKey(c *fiber.Ctx, p *auth.Principal) error {
	if s.src.Keys == nil {
		return errUnavailable
	}
	k, ok := s.auth.Lookup(c.Params("id"))
	if !ok {
		return errNotFound
	}
	if k.Revoked.IsZero() {
		k.Revoked, k.RevokedBy = time.Now().UTC(), p.ID
		if _, err := s.putKey(c.UserContext(), k, false); err != nil {
			return err
		}
	}
	return c.JSON(s.keyInfo(k))
}

// putKey stores k (with a new token when fresh) and applies it to this process at once; the
// other processes read it within keyRefresh.
func (s *Server) putKey(ctx context.Context, k auth.Key, fresh bool) (token string, err error) {
	if fresh {
		token = auth.NewToken()
		k.Hash = auth.HashToken(token)
	}
	if err := s.src.Keys.Put(ctx, analytics.KeyRow{ID: k.ID, Source: k.Source, Name: k.Name, Role: string(k.Role), Units: k.Units, Hash: k.Hash,
		Created: k.Created, CreatedBy: k.CreatedBy, Expires: k.Expires, Revoked: k.Revoked, RevokedBy: k.RevokedBy}); err != nil {
		return "", fmt.Errorf("store key %s: %w", k.ID, err)
	}
	return token, s.loadKeys(ctx)
}

// keyRefresh is how often each process reads the stored keys again: a key made, rotated or
// revoked on another process counts here within it.
const keyRefresh = 10 * time.Second

// RunKeys reads the stored keys now and every keyRefresh until ctx ends.
func (s *Server) RunKeys(ctx context.Context) error {
	if s.src.Keys == nil {
		return nil
	}
	t := time.NewTicker(keyRefresh)
	defer t.Stop()
	failing := false // said once per outage, not every refresh
	for {
		switch err := s.loadKeys(ctx); {
		case err != nil && !failing && !errors.Is(err, context.Canceled):
			s.log.Warn("stored API keys not read; the ones read before stay", "err", err)
			failing = true
		case err == nil && failing:
			s.log.Info("stored API keys read again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Server) loadKeys(ctx context.Context) error {
	rows, err := s.src.Keys.All(ctx)
	if err != nil {
		return err
	}
	keys := make([]auth.Key, len(rows))
	for i, r := range rows {
		keys[i] = auth.Key{ID: r.ID, Name: r.Name, Role: auth.Role(r.Role), Units: r.Units, Hash: r.Hash, Source: r.Source,
			Created: r.Created, CreatedBy: r.CreatedBy, Expires: r.Expires, Revoked: r.Revoked, RevokedBy: r.RevokedBy}
	}
	s.auth.SetStored(keys)
	return nil
}
