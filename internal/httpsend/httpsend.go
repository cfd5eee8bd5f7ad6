// Package httpsend holds what the HTTP senders share (the alerts' webhooks and gateways, the
// NGSI-LD notifications and pushes): an answer's status read as delivered, worth retrying or
// refused, and errors and addresses without the parts of a URL that may hold a token.
package httpsend

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// ErrPermanent marks a delivery failure that retrying cannot mend (a 4xx answer, a refused
// recipient).
var ErrPermanent = errors.New("permanent failure")

// StatusError turns an HTTP answer into nil (2xx), a retryable error (5xx, 408, 429) or one
// wrapping ErrPermanent (other statuses); name says who answered.
func StatusError(name string, resp *http.Response) error {
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return fmt.Errorf("%s: answered %s", name, resp.Status)
	default:
		return fmt.Errorf("%s: answered %s: %w", name, resp.Status, ErrPermanent)
	}
}

// Scrub drops the URL (which may hold a token in its query) from an HTTP client's error.
func Scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// Address is u as logs and answers may show it: scheme, host and path, without credentials,
// query or fragment.
func Address(u *url.URL) string { return u.Scheme + "://" + u.Host + u.EscapedPath() }
