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
	"sync"
	"time"

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
	// App is a citizen app: it submits citizen reports and reads their status.
	App Role = config.RoleApp
	// Partner is another agency: it reads the NGSI-LD API within its key's scope.
	Partner Role = config.RolePartner
)

// Roles lists every role.
var Roles = []Role{Admin, Operator, Unit, Analyst, Viewer, App, Partner}

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
	// ApproveWarnings: release (or reject) the public warnings (CAP) waiting for a person.
	ApproveWarnings Permission = "approve_warnings"
	// Duty: read and write the duty log, hand over and accept shifts.
	Duty Permission = "duty"
	// Report: submit citizen reports and read their status by ticket (citizen apps only).
	Report Permission = "report"
	// Share: read the NGSI-LD API (other agencies, and the center's own staff).
	Share Permission = "share"
)

// grants is the role × permission matrix.
var grants = map[Role][]Permission{
	Admin:    {Read, History, ActOnAlerts, Silence, Diagnose, ApproveWarnings, Duty, Administer, Share},
	Operator: {Read, History, ActOnAlerts, Silence, Diagnose, ApproveWarnings, Duty, Share},
	Unit:     {Read, History, ActOnAlerts},
	Analyst:  {Read, History, Diagnose, Share},
	Viewer:   {Read},
	App:      {Report},
	Partner:  {Share},
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
	// Types and Districts scope a partner: the NGSI-LD entity types and districts it reads
	// (nil: all).
	Types     []string `json:"types,omitempty"`
	Districts []string `json:"districts,omitempty"`
	// Via is api_key or jwt.
	Via string `json:"via"`
}

// Can reports whether p holds permission perm.
func (p *Principal) Can(perm Permission) bool {
	return slices.Contains(grants[p.Role], perm)
}

// SeesAll reports whether p sees every alert (every role that reads them but unit).
func (p *Principal) SeesAll() bool { return p.Role != Unit && p.Can(Read) }

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
	jwt *jwtVerifier
	now func() time.Time

	mu     sync.RWMutex
	config []Key           // http.auth.api_keys
	stored []Key           // made, rotated or revoked through the API (SetStored)
	byHash map[string]*Key // every key, the stored version of a config key winning
}

// Key is an API key as the API lists it: never its token, only the token's hash (not shown).
type Key struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Role  Role     `json:"role"`
	Units []string `json:"units,omitempty"`
	// Types and Districts scope a partner key (config keys only).
	Types     []string `json:"types,omitempty"`
	Districts []string `json:"districts,omitempty"`
	Hash      string   `json:"-"`
	// Source is config (http.auth.api_keys: rotated by editing the file) or api.
	Source    string    `json:"source"`
	Created   time.Time `json:"created,omitzero"`
	CreatedBy string    `json:"created_by,omitempty"`
	Expires   time.Time `json:"expires,omitzero"`
	Revoked   time.Time `json:"revoked,omitzero"`
	RevokedBy string    `json:"revoked_by,omitempty"`
}

// Key sources.
const (
	SourceConfig = "config"
	SourceAPI    = "api"
)

// Status is active, expired or revoked at now.
func (k *Key) Status(now time.Time) string {
	switch {
	case !k.Revoked.IsZero():
		return "revoked"
	case !k.Expires.IsZero() && !now.Before(k.Expires):
		return "expired"
	}
	return "active"
}

// KeyRefused is the refusal of a known key that is revoked or expired: worth an audit row,
// unlike a token nobody ever issued.
type KeyRefused struct {
	ID, Name, Status string
	At               time.Time // when it was revoked or expired
}

func (e *KeyRefused) Error() string {
	verb := "was revoked"
	if e.Status == "expired" {
		verb = "expired"
	}
	return fmt.Sprintf("API key %s %s at %s", e.ID, verb, e.At.UTC().Format(time.RFC3339))
}

// Unwrap makes a refused key an ErrUnauthenticated.
func (e *KeyRefused) Unwrap() error { return ErrUnauthenticated }

// New builds an authenticator from config; client fetches the JWKS (nil: http.DefaultClient).
func New(cfg config.Auth, client *http.Client, log *slog.Logger) *Authenticator {
	a := &Authenticator{now: time.Now}
	for _, k := range cfg.APIKeys {
		a.config = append(a.config, Key{ID: k.ID, Name: k.Name, Role: Role(k.Role), Units: slices.Clone(k.Units), Hash: k.Hash,
			Types: nilIfEmpty(k.Types), Districts: nilIfEmpty(k.Districts), Source: SourceConfig, Expires: k.Expires})
	}
	a.index()
	if cfg.JWT.JWKSURL != "" {
		if client == nil {
			client = http.DefaultClient
		}
		a.jwt = newJWTVerifier(cfg.JWT, client, log)
	}
	return a
}

// SetStored takes the keys kept in ClickHouse: those made through the API, and revocations of
// config keys (same id, source config). It replaces the ones set before.
func (a *Authenticator) SetStored(keys []Key) {
	a.mu.Lock()
	a.stored = keys
	a.mu.Unlock()
	a.index()
}

func (a *Authenticator) index() {
	a.mu.Lock()
	defer a.mu.Unlock()
	stored := map[string]*Key{}
	for i := range a.stored {
		stored[a.stored[i].ID] = &a.stored[i]
	}
	a.byHash = map[string]*Key{}
	for i := range a.config {
		k := &a.config[i]
		if s, ok := stored[k.ID]; ok && s.Source == SourceConfig {
			merged := *k // the file's key, with the revocation kept in ClickHouse
			merged.Revoked, merged.RevokedBy = s.Revoked, s.RevokedBy
			k = &merged
		}
		a.byHash[k.Hash] = k
	}
	for _, s := range stored {
		if s.Source == SourceAPI {
			a.byHash[s.Hash] = s
		}
	}
}

// Keys lists every key, config's first, each with its status as of now.
func (a *Authenticator) Keys() []Key {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]Key, 0, len(a.byHash))
	for _, k := range a.byHash {
		out = append(out, *k)
	}
	slices.SortFunc(out, func(x, y Key) int {
		if x.Source != y.Source {
			return strings.Compare(y.Source, x.Source) // config before api
		}
		return strings.Compare(x.ID, y.ID)
	})
	return out
}

// Lookup returns the key named id, whichever its source (with a config key's revocation).
func (a *Authenticator) Lookup(id string) (Key, bool) {
	for _, k := range a.Keys() {
		if k.ID == id {
			return k, true
		}
	}
	return Key{}, false
}

// Enabled reports whether any token can be accepted at all.
func (a *Authenticator) Enabled() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.byHash) > 0 || a.jwt != nil
}

// Run refreshes the identity provider's keys until ctx ends; it returns at once without JWT.
func (a *Authenticator) Run(ctx context.Context) error {
	if a.jwt == nil {
		return nil
	}
	return a.jwt.run(ctx)
}

// Authenticate returns the caller a bearer token names. A revoked or expired key is refused
// with a *KeyRefused.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (*Principal, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, fmt.Errorf("%w: no bearer token", ErrUnauthenticated)
	}
	if strings.Count(token, ".") == 2 && a.jwt != nil {
		return a.jwt.verify(ctx, token)
	}
	a.mu.RLock()
	k, ok := a.byHash[HashToken(token)]
	a.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: unknown API key", ErrUnauthenticated)
	}
	switch now := a.now(); k.Status(now) {
	case "revoked":
		return nil, &KeyRefused{ID: k.ID, Name: k.Name, Status: "revoked", At: k.Revoked}
	case "expired":
		return nil, &KeyRefused{ID: k.ID, Name: k.Name, Status: "expired", At: k.Expires}
	}
	return &Principal{ID: "key:" + k.ID, Name: k.Name, Role: k.Role, Units: slices.Clone(k.Units), Types: k.Types, Districts: k.Districts, Via: "api_key"}, nil
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

// nilIfEmpty is s, or nil when it holds nothing (a scope that names nothing is no limit).
func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}
