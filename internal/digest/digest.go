// Package digest computes and checks the password digests IP cameras ask for: HTTP digest
// authentication (RFC 7616, MD5 with qop "auth", what cameras' web servers use for snapshots)
// and the WS-Security UsernameToken password digest of ONVIF's SOAP calls. The client side is
// ioc's; the checking side is the camera simulator's.
package digest

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// ParseParams reads an HTTP authentication header's comma-separated key=value pairs (after
// the scheme), values plain or quoted; keys are lower-cased.
func ParseParams(s string) map[string]string {
	out := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			break
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimSpace(s[eq+1:])
		var val string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			end := 1
			for ; end < len(s) && s[end] != '"'; end++ {
				if s[end] == '\\' && end+1 < len(s) {
					end++
				}
				b.WriteByte(s[end])
			}
			val = b.String()
			s = s[min(end+1, len(s)):]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val = strings.TrimSpace(s[:end])
			s = s[end:]
		}
		out[key] = val
		s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), ","))
	}
	return out
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// response is the digest of a request with challenge values p.
func response(method, uri, user, password string, p map[string]string) string {
	ha1 := md5hex(user + ":" + p["realm"] + ":" + password)
	ha2 := md5hex(method + ":" + uri)
	if p["qop"] == "" {
		return md5hex(ha1 + ":" + p["nonce"] + ":" + ha2)
	}
	return md5hex(ha1 + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":" + p["qop"] + ":" + ha2)
}

// Authorization answers a "Digest" challenge (the WWW-Authenticate header) for a request of
// method to uri (path and query): the Authorization header's value.
func Authorization(challenge, method, uri, user, password string) (string, error) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(challenge), " ")
	if !strings.EqualFold(scheme, "Digest") {
		return "", fmt.Errorf("authentication scheme %q: want Digest", scheme)
	}
	p := ParseParams(rest)
	if alg := p["algorithm"]; alg != "" && !strings.EqualFold(alg, "MD5") {
		return "", fmt.Errorf("digest algorithm %q: only MD5 is supported", alg)
	}
	if p["nonce"] == "" {
		return "", fmt.Errorf("digest challenge without a nonce")
	}
	if qop := p["qop"]; qop != "" {
		if !containsToken(qop, "auth") {
			return "", fmt.Errorf("digest qop %q: want auth", qop)
		}
		cnonce := make([]byte, 8)
		rand.Read(cnonce)
		p["qop"], p["nc"], p["cnonce"] = "auth", "00000001", hex.EncodeToString(cnonce)
	}
	h := fmt.Sprintf(`Digest username=%q, realm=%q, nonce=%q, uri=%q, response=%q`, user, p["realm"], p["nonce"], uri,
		response(method, uri, user, password, p))
	if p["qop"] != "" {
		h += fmt.Sprintf(`, qop=auth, nc=%s, cnonce=%q`, p["nc"], p["cnonce"])
	}
	if p["opaque"] != "" {
		h += fmt.Sprintf(`, opaque=%q`, p["opaque"])
	}
	return h + ", algorithm=MD5", nil
}

func containsToken(list, tok string) bool {
	for _, t := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(t), tok) {
			return true
		}
	}
	return false
}

// Check tells whether an Authorization header answers a digest challenge of realm for a
// request of method to uri with user's password. The nonce is not checked against those
// given out: the caller keeps none.
func Check(header, method, uri, realm, user, password string) bool {
	scheme, rest, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Digest") {
		return false
	}
	p := ParseParams(rest)
	if p["username"] != user || p["realm"] != realm || p["uri"] != uri {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(p["response"]), []byte(response(method, uri, user, password, p))) == 1
}

// PasswordDigest is a WS-Security UsernameToken's password digest:
// base64(SHA-1(nonce + created + password)).
func PasswordDigest(nonce []byte, created, password string) string {
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(created))
	h.Write([]byte(password))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}
