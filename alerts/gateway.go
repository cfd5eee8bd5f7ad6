package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"text/template"

	"github.com/haidang-ioc/ioc/internal/config"
)

// gateway calls an SMS or Zalo OA gateway: one HTTP request per recipient, its body and
// header values rendered from templates over .To, .Text (the message, Vietnamese unless the
// receiver says en), .Subject, .Token (the secret) and .Notifications; json quotes a value.
type gateway struct {
	webhook
	method  string
	to      []string
	token   string
	body    *template.Template
	headers map[string]*template.Template
}

// gatewayData is what a gateway's templates see.
type gatewayData struct {
	To, Text, Subject, Token string
	Notifications            []Notification
}

var gatewayFuncs = template.FuncMap{"json": func(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}}

func newGateway(rc config.Receiver, token string) (*gateway, error) {
	g := &gateway{webhook: webhook{name: rc.Name, url: rc.URL, lang: rc.Language, client: &http.Client{}},
		method: rc.Method, to: rc.To, token: token, headers: map[string]*template.Template{}}
	if g.method == "" {
		g.method = http.MethodPost
	}
	var err error
	if g.body, err = template.New("body").Option("missingkey=error").Funcs(gatewayFuncs).Parse(rc.Body); err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	for k, v := range rc.Headers {
		if g.headers[k], err = template.New(k).Option("missingkey=error").Funcs(gatewayFuncs).Parse(v); err != nil {
			return nil, fmt.Errorf("headers.%s: %w", k, err)
		}
	}
	return g, nil
}

func (g *gateway) Send(ctx context.Context, ns []Notification) error {
	data := gatewayData{Text: MessageText(ns, g.lang), Subject: Subject(ns, g.lang), Token: g.token, Notifications: ns}
	for _, to := range g.to {
		data.To = to
		var body bytes.Buffer
		if err := g.body.Execute(&body, data); err != nil {
			return fmt.Errorf("gateway %s: body: %w: %w", g.name, ErrPermanent, err)
		}
		req, err := http.NewRequestWithContext(ctx, g.method, g.url, &body)
		if err != nil {
			return fmt.Errorf("gateway %s: %w: %w", g.name, ErrPermanent, err)
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("Idempotency-Key", IdempotencyKey(ns)+"-"+to)
		for k, t := range g.headers {
			var v strings.Builder
			if err := t.Execute(&v, data); err != nil {
				return fmt.Errorf("gateway %s: header %s: %w: %w", g.name, k, ErrPermanent, err)
			}
			req.Header.Set(k, v.String())
		}
		if err := g.do(req); err != nil {
			return err
		}
	}
	return nil
}
