// Package auth says who calls the dashboard's API and what they may do: bearer tokens are API
// keys (kept as their SHA-256 in config) or JWTs of an external identity provider (checked
// against its JWKS), each mapped to a role (admin, operator, unit, analyst, viewer) and, for a
// unit, to the units whose alerts it sees.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/haidang-ioc/ioc/internal/config"
)

// Role is what a caller is to the operations center.
type Role string

// Roles, from the most to the least trusted.
const (
	Admin    Role = config.RoleAdmin
	Operator Role = config.RoleOperator
	Unit     Role = config.RoleUnit
	Analyst  Role = config.RoleAnalyst
	Viewer   Role = config.RoleViewer
)

// Roles lists every role.
var Roles = []Role{Admin, Operator, Unit, Analyst, Viewer}

// Permission is one kind of action on the API.
type Permission string

// Permissions. Reading the live city and the alerts is open to every role (a unit sees only its
// own alerts); the rest follows the matrix in grants.
const (
	// Read: sensors, cameras, alerts, districts, the live hub, system health.
	Read Permission = "read"
	// History: trends and exports.
	History Permission = "history"
	// ActOnAlerts: acknowledge, assign, comment, resolve.
	ActOnAlerts Permission = "act_on_alerts"
	// Silence: create and expire silences.
	Silence Permission = "silence"
	// Administer: reload the rules, read the audit log.
	Administer Permission = "administer"
	// Diagnose: the data's health, such as the dead letters (rejected payloads).
	Diagnose Permission = "diagnose"
)

// grants is the role × permission matrix.
var grants = map[Role][]Permission{
	Admin:    {Read, History, ActOnAlerts, Silence, Diagnose, Administer},
	Operator: {Read, History, ActOnAlerts, Silence, Diagnose},
	Unit:     {Read, History, ActOnAlerts},
	Analyst:  {Read, History, Diagnose},
	Viewer:   {Read},
}

// Permissions lists what p may do, for the UI to show only what it can use.
func (p *Principal) Permissions() []Permission { return slices.Clone(grants[p.Role]) }

// Principal is an authenticated caller.
type Principal struct {
	// ID is stable per caller: the API key's id, or the JWT's issuer-scoped subject. It keys
	// rate limits and names the caller in the audit log.
	ID   string `json:"id"`
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Units bind a unit caller to the units whose alerts it sees and acts on.
	Units []string `json:"units,omitempty"`
	// Via is api_key or jwt.
	Via string `json:"via"`
}

// Can reports whether p holds permission perm.
func (p *Principal) Can(perm Permission) bool {
	return slices.Contains(grants[p.Role], perm)
}

// SeesAll reports whether p sees every alert (every role but unit).
func (p *Principal) SeesAll() bool { return p.Role != Unit }

// Sees reports whether p sees an alert routed to units.
func (p *Principal) Sees(units []string) bool {
	if p.SeesAll() {
		return true
	}
	return slices.ContainsFunc(p.Units, func(u string) bool { return slices.Contains(units, u) })
}

// ErrUnauthenticated wraps every refused token; the wrapped text says why (expired, unknown,
// bad signature) for the log, never the token.
var ErrUnauthenticated = errors.New("unauthenticated")

// Authenticator checks bearer tokens.
type Authenticator struct {
	keys map[string]config.APIKey // by hash
	jwt  *jwtVerifier
}

// New builds an authenticator from config; client fetches the JWKS (nil: http.DefaultClient).
func New(cfg config.Auth, client *http.Client, log *slog.Logger) *Authenticator {
	a := &Authenticator{keys: map[string]config.APIKey{}}
	for _, k := range cfg.APIKeys {
		a.keys[k.Hash] = k
	}
	if cfg.JWT.JWKSURL != "" {
		if client == nil {
			client = http.DefaultClient
		}
		a.jwt = newJWTVerifier(cfg.JWT, client, log)
	}
	return a
}

// Enabled reports whether any token can be accepted at all.
func (a *Authenticator) Enabled() bool { return len(a.keys) > 0 || a.jwt != nil }

// Run refreshes the identity provider's keys until ctx ends; it returns at once without JWT.
func (a *Authenticator) Run(ctx context.Context) error {
	if a.jwt == nil {
		return nil
	}
	return a.jwt.run(ctx)
}

// Authenticate returns the caller a bearer token names.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (*Principal, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, fmt.Errorf("%w: no bearer token", ErrUnauthenticated)
	}
	if strings.Count(token, ".") == 2 && a.jwt != nil {
		return a.jwt.verify(ctx, token)
	}
	k, ok := a.keys[HashToken(token)]
	if !ok {
		return nil, fmt.Errorf("%w: unknown API key", ErrUnauthenticated)
	}
	return &Principal{ID: "key:" + k.ID, Name: k.Name, Role: Role(k.Role), Units: slices.Clone(k.Units), Via: "api_key"}, nil
}

// HashToken is the form an API key is kept in: "sha256:" and the token's hex SHA-256. API keys
// carry 160 random bits, so a plain hash cannot be reversed by guessing.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// NewToken makes a new API key: "ioc_" and 32 base32 characters of crypto/rand.
func NewToken() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return "ioc_" + strings.ToLower(base32.StdEncoding.EncodeToString(b))
}
