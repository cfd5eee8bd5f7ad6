package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/haidang-ioc/ioc/internal/config"
)

func TestAPIKeys(t *testing.T) {
	tok := NewToken()
	if !strings.HasPrefix(tok, "ioc_") || len(tok) != 36 || tok == NewToken() {
		t.Fatalf("NewToken = %q", tok)
	}
	a := New(config.Auth{APIKeys: []config.APIKey{
		{ID: "cand-police", Name: "Công an tỉnh", Role: "unit", Units: []string{"police"}, Hash: HashToken(tok)},
	}}, nil, slog.Default())
	p, err := a.Authenticate(context.Background(), " "+tok+" ")
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "key:cand-police" || p.Role != Unit || p.Units[0] != "police" || p.Via != "api_key" {
		t.Fatalf("principal %+v", p)
	}
	for _, bad := range []string{"", tok + "x", HashToken(tok), "a.b.c"} {
		if _, err := a.Authenticate(context.Background(), bad); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("token %q: err %v, want ErrUnauthenticated", bad, err)
		} else if tok != "" && strings.Contains(err.Error(), tok) {
			t.Errorf("the error repeats the token: %v", err)
		}
	}
}

func TestGrants(t *testing.T) {
	want := map[Role]string{Admin: "RHASX", Operator: "RHAS", Unit: "RHA", Analyst: "RH", Viewer: "R"}
	perms := map[byte]Permission{'R': Read, 'H': History, 'A': ActOnAlerts, 'S': Silence, 'X': Administer}
	for _, r := range Roles {
		p := Principal{Role: r}
		for c, perm := range perms {
			if got := p.Can(perm); got != (strings.IndexByte(want[r], c) >= 0) {
				t.Errorf("%s can %s = %v", r, perm, got)
			}
		}
	}
	u := Principal{Role: Unit, Units: []string{"police", "fire_police"}}
	if !u.Sees([]string{"ioc", "fire_police"}) || u.Sees([]string{"flood_control"}) || u.SeesAll() {
		t.Error("a unit sees exactly the alerts routed to its units")
	}
	if op := (Principal{Role: Viewer}); !op.Sees([]string{"police"}) {
		t.Error("a viewer sees every alert")
	}
}

// idp is an identity provider: a JWKS over real HTTP and the keys to sign with.
type idp struct {
	srv     *httptest.Server
	rsa     *rsa.PrivateKey
	ec      *ecdsa.PrivateKey
	mu      sync.Mutex
	fetches int
	kids    []string // published
}

func newIDP(t *testing.T) *idp {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p := &idp{rsa: rk, ec: ek, kids: []string{"r1", "e1"}}
	enc := base64.RawURLEncoding.EncodeToString
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.fetches++
		var keys []map[string]string
		for _, kid := range p.kids {
			if kid[0] == 'r' {
				keys = append(keys, map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "n": enc(rk.N.Bytes()), "e": enc(big.NewInt(int64(rk.E)).Bytes())})
			} else {
				b, _ := ek.PublicKey.Bytes()
				keys = append(keys, map[string]string{"kty": "EC", "kid": kid, "crv": "P-256", "x": enc(b[1:33]), "y": enc(b[33:])})
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) sign(t *testing.T, method jwt.SigningMethod, kid string, key any, claims jwt.MapClaims) string {
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWT(t *testing.T) {
	p := newIDP(t)
	cfg := config.Default().HTTP.Auth
	cfg.JWT.JWKSURL, cfg.JWT.Issuer, cfg.JWT.Audience = p.srv.URL, "https://sso.laocai.gov.vn/realms/ioc", "ioc"
	a := New(cfg, p.srv.Client(), slog.Default())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()

	now := time.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": cfg.JWT.Issuer, "aud": "ioc", "sub": "u-42", "name": "Nguyễn Văn An",
			"role": []any{"offline_access", "operator"}, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	pubDER, _ := p.ec.PublicKey.Bytes()
	cases := []struct {
		name  string
		token string
		role  Role
		units []string
	}{
		{"rs256", p.sign(t, jwt.SigningMethodRS256, "r1", p.rsa, claims(nil)), Operator, nil},
		{"es256 unit", p.sign(t, jwt.SigningMethodES256, "e1", p.ec, claims(func(c jwt.MapClaims) {
			c["role"], c["units"] = "unit", []any{"traffic_police"}
		})), Unit, []string{"traffic_police"}},
		{"expired", p.sign(t, jwt.SigningMethodRS256, "r1", p.rsa, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() })), "", nil},
		{"no exp", p.sign(t, jwt.SigningMethodRS256, "r1", p.rsa, claims(func(c jwt.MapClaims) { delete(c, "exp") })), "", nil},
		{"other issuer", p.sign(t, jwt.SigningMethodRS256, "r1", p.rsa, claims(func(c jwt.MapClaims) { c["iss"] = "https://evil" })), "", nil},
		{"other audience", p.sign(t, jwt.SigningMethodRS256, "r1", p.rsa, claims(func(c jwt.MapClaims) { c["aud"] = "grafana" })), "", nil},
		{"forged", p.sign(t, jwt.SigningMethodRS256, "r1", other, claims(nil)), "", nil},
		{"unknown kid", p.sign(t, jwt.SigningMethodRS256, "r9", other, claims(nil)), "", nil},
		{"alg none", p.sign(t, jwt.SigningMethodNone, "r1", jwt.UnsafeAllowNoneSignatureType, claims(nil)), "", nil},
		{"hmac with the public key", p.sign(t, jwt.SigningMethodHS256, "e1", pubDER, claims(nil)), "", nil},
		{"no role", p.sign(t, jwt.SigningMethodRS256, "r1", p.rsa, claims(func(c jwt.MapClaims) { c["role"] = "superuser" })), "", nil},
		{"unit without units", p.sign(t, jwt.SigningMethodRS256, "r1", p.rsa, claims(func(c jwt.MapClaims) { c["role"] = "unit" })), "", nil},
		{"no subject", p.sign(t, jwt.SigningMethodRS256, "r1", p.rsa, claims(func(c jwt.MapClaims) { delete(c, "sub") })), "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := a.Authenticate(context.Background(), tc.token)
			if tc.role == "" {
				if !errors.Is(err, ErrUnauthenticated) {
					t.Fatalf("accepted: %+v, %v", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Role != tc.role || got.ID != "jwt:u-42" || got.Name != "Nguyễn Văn An" || strings.Join(got.Units, ",") != strings.Join(tc.units, ",") {
				t.Fatalf("principal %+v", got)
			}
		})
	}

	// The provider rotates its keys: a token with the new kid makes the verifier read the JWKS
	// again, at most every 30s.
	p.mu.Lock()
	p.kids = append(p.kids, "r2")
	before := p.fetches
	p.mu.Unlock()
	a.jwt.mu.Lock()
	a.jwt.fetched = time.Now().Add(-time.Minute)
	a.jwt.mu.Unlock()
	if _, err := a.Authenticate(context.Background(), p.sign(t, jwt.SigningMethodRS256, "r2", p.rsa, claims(nil))); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if _, err := a.Authenticate(context.Background(), p.sign(t, jwt.SigningMethodRS256, "r7", p.rsa, claims(nil))); err == nil {
		t.Fatal("an unpublished kid was accepted")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fetches != before+1 {
		t.Fatalf("JWKS fetched %d times after the rotation, want 1 (an unknown kid refetches at most every 30s)", p.fetches-before)
	}
}
