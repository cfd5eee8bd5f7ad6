package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/haidang-ioc/ioc/internal/backoff"
	"github.com/haidang-ioc/ioc/internal/config"
)

// jwtMethods are the signatures accepted: asymmetric only, so that a token signed with the
// provider's public key as an HMAC secret ("alg confusion") or with "none" is refused.
var jwtMethods = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// refetchEvery bounds how often an unknown key id makes the verifier read the JWKS again.
const refetchEvery = 30 * time.Second

// jwtVerifier checks JWTs against the identity provider's published keys.
type jwtVerifier struct {
	cfg    config.JWT
	client *http.Client
	log    *slog.Logger
	parser *jwt.Parser

	mu      sync.Mutex
	keys    map[string]crypto.PublicKey
	fetched time.Time
}

func newJWTVerifier(cfg config.JWT, client *http.Client, log *slog.Logger) *jwtVerifier {
	return &jwtVerifier{cfg: cfg, client: client, log: log.With("component", "auth", "jwks", cfg.JWKSURL),
		parser: jwt.NewParser(jwt.WithValidMethods(jwtMethods), jwt.WithIssuer(cfg.Issuer), jwt.WithAudience(cfg.Audience),
			jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(30*time.Second))}
}

// run reads the keys at once, then every Refresh, retrying with backoff after a failure.
func (v *jwtVerifier) run(ctx context.Context) error {
	for {
		bo := backoff.Backoff{Initial: time.Second, Max: time.Minute}
		for err := v.fetch(ctx); err != nil; err = v.fetch(ctx) {
			v.log.Warn("identity provider keys not read; JWTs signed with unknown keys are refused", "err", err)
			if !bo.Wait(ctx) {
				return nil
			}
		}
		t := time.NewTimer(v.cfg.Refresh)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

type jwks struct {
	Keys []struct {
		Kty string `json:"kty"`
		Kid string `json:"kid"`
		Use string `json:"use"`
		N   string `json:"n"`
		E   string `json:"e"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Y   string `json:"y"`
	} `json:"keys"`
}

// fetch reads the JWKS and replaces the keys; keys it cannot read are skipped and logged.
func (v *jwtVerifier) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.JWKSURL, nil)
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("jwks: %s answered %s", v.cfg.JWKSURL, resp.Status)
	}
	var set jwks
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	keys := map[string]crypto.PublicKey{}
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		pub, err := publicKey(k.Kty, k.N, k.E, k.Crv, k.X, k.Y)
		if err != nil {
			v.log.Warn("jwks key skipped", "kid", k.Kid, "err", err)
			continue
		}
		keys[k.Kid] = pub
	}
	v.mu.Lock()
	v.keys, v.fetched = keys, time.Now()
	v.mu.Unlock()
	return nil
}

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// publicKey decodes one JWK (RSA or EC).
func publicKey(kty, n, e, crv, x, y string) (crypto.PublicKey, error) {
	switch kty {
	case "RSA":
		nb, err1 := b64(n)
		eb, err2 := b64(e)
		if err1 != nil || err2 != nil || len(nb) < 256 || len(eb) == 0 || len(eb) > 4 {
			return nil, fmt.Errorf("RSA key: want base64url n of 2048 bits or more and e")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(new(big.Int).SetBytes(eb).Int64())}, nil
	case "EC":
		curves := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}
		curve, ok := curves[crv]
		if !ok {
			return nil, fmt.Errorf("EC key: unknown curve %q", crv)
		}
		xb, err1 := b64(x)
		yb, err2 := b64(y)
		size := (curve.Params().BitSize + 7) / 8
		if err1 != nil || err2 != nil || len(xb) != size || len(yb) != size {
			return nil, fmt.Errorf("EC key: want base64url x and y of %d bytes", size)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, slices.Concat([]byte{4}, xb, yb))
		if err != nil {
			return nil, fmt.Errorf("EC key: %w", err)
		}
		return pub, nil
	}
	return nil, fmt.Errorf("key type %q is not RSA or EC", kty)
}

// key finds the public key of kid, reading the JWKS again (at most every 30s) when it is not
// known: the provider has rotated its keys.
func (v *jwtVerifier) key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	v.mu.Lock()
	k, ok := v.keys[kid]
	stale := time.Since(v.fetched) > refetchEvery
	v.mu.Unlock()
	if ok {
		return k, nil
	}
	if stale {
		if err := v.fetch(ctx); err != nil {
			return nil, err
		}
		v.mu.Lock()
		k, ok = v.keys[kid]
		v.mu.Unlock()
		if ok {
			return k, nil
		}
	}
	return nil, fmt.Errorf("no key %q in the identity provider's JWKS", kid)
}

// verify checks a JWT's signature, issuer, audience and times, and maps its claims to a
// principal.
func (v *jwtVerifier) verify(ctx context.Context, token string) (*Principal, error) {
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		return v.key(ctx, kid)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: JWT: %w", ErrUnauthenticated, err)
	}
	sub, _ := claims.GetSubject()
	if sub == "" {
		return nil, fmt.Errorf("%w: JWT has no subject", ErrUnauthenticated)
	}
	role := claimRole(claims[v.cfg.RoleClaim])
	if role == "" {
		return nil, fmt.Errorf("%w: JWT claim %q names none of the roles %v", ErrUnauthenticated, v.cfg.RoleClaim, Roles)
	}
	p := &Principal{ID: "jwt:" + sub, Name: sub, Role: role, Via: "jwt"}
	if name, ok := claims[v.cfg.NameClaim].(string); ok && name != "" {
		p.Name = name
	}
	p.Units = claimStrings(claims[v.cfg.UnitsClaim])
	if role == Unit && len(p.Units) == 0 {
		return nil, fmt.Errorf("%w: JWT of a unit user without units in claim %q", ErrUnauthenticated, v.cfg.UnitsClaim)
	}
	if role != Unit {
		p.Units = nil
	}
	return p, nil
}

// claimRole reads a role claim: a role, or a list of strings of which the most trusted role
// counts (identity providers list every group of a user).
func claimRole(v any) Role {
	for _, r := range Roles {
		if slices.Contains(claimStrings(v), string(r)) {
			return r
		}
	}
	return ""
}

func claimStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
