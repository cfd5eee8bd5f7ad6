package dashboard

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/haidang-ioc/ioc/dashboard/auth"
)

// The OpenAPI 3 document is generated from the route table, with the schemas of bodies and
// answers read from their Go types by reflection, so that it cannot drift from the code.

type obj = map[string]any

// schemas builds the components' schemas of Go types.
type schemas struct {
	defs  obj
	names map[reflect.Type]string
}

var timeType = reflect.TypeFor[time.Time]()

// schemaName is a type's name in the document: Page[alerts.Alert] becomes AlertPage.
func schemaName(t reflect.Type) string {
	name := t.Name()
	if open := strings.IndexByte(name, '['); open >= 0 {
		inner := name[open+1 : len(name)-1]
		inner = inner[strings.LastIndexByte(inner, '.')+1:]
		return inner + name[:open]
	}
	return name
}

func (g *schemas) of(t reflect.Type) obj {
	switch {
	case t == timeType:
		return obj{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Pointer:
		s := g.of(t.Elem())
		s["nullable"] = true
		return s
	}
	switch t.Kind() {
	case reflect.String:
		return obj{"type": "string"}
	case reflect.Bool:
		return obj{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return obj{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return obj{"type": "number"}
	case reflect.Slice, reflect.Array:
		s := obj{"type": "array", "items": g.of(t.Elem())}
		if t.Kind() == reflect.Array {
			s["minItems"], s["maxItems"] = t.Len(), t.Len()
		}
		return s
	case reflect.Map:
		return obj{"type": "object", "additionalProperties": g.of(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t)
		}
		name, ok := g.names[t]
		if !ok {
			name = schemaName(t)
			g.names[t] = name
			g.defs[name] = obj{} // a placeholder against recursion
			g.defs[name] = g.object(t)
		}
		return obj{"$ref": "#/components/schemas/" + name}
	}
	return obj{}
}

func (g *schemas) object(t reflect.Type) obj {
	props := obj{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			for k, v := range g.object(f.Type)["properties"].(obj) {
				props[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.of(f.Type)
	}
	return obj{"type": "object", "properties": props}
}

var pathParam = regexp.MustCompile(`:([A-Za-z]+)`)

// openAPIPath turns a fiber path into an OpenAPI one: /alerts/:id → /alerts/{id}.
func openAPIPath(p string) string { return pathParam.ReplaceAllString(p, "{$1}") }

func paramSchema(p param) obj {
	s := obj{"type": "string"}
	switch p.typ {
	case "integer", "number", "boolean":
		s["type"] = p.typ
	case "date-time":
		s["format"] = "date-time"
	}
	if len(p.enum) > 0 {
		s["enum"] = p.enum
	}
	return s
}

const liveDescription = `One WebSocket. Authenticate with an Authorization header or, from a browser, with the first message {"type":"auth","token":"…"} within 5 s. Then {"type":"subscribe","topics":[…]}: alerts (not for units), alerts.unit.<unit>, kpi, sensors, sensor.<id>, cameras, camera.<id>, district.<name>. The server answers a snapshot of each new topic, then update frames with what changed (a sensor's values at most once per http.live.sensor_every); a client too slow to keep up gets {"type":"lagged"} and a new snapshot. Pings every 20 s; {"type":"ping"} is answered with {"type":"pong"}.`

// document builds the OpenAPI document of the routes.
func (s *Server) document() obj {
	g := &schemas{defs: obj{}, names: map[reflect.Type]string{}}
	errRef := g.of(reflect.TypeFor[apiError]())
	errResp := func(desc string) obj {
		return obj{"description": desc, "content": obj{"application/json": obj{"schema": errRef}}}
	}
	paths := obj{}
	for _, r := range s.routes {
		op := obj{"operationId": r.id, "tags": []string{r.tag}, "summary": r.summary}
		var params []obj
		for _, m := range pathParam.FindAllStringSubmatch(r.path, -1) {
			params = append(params, obj{"name": m[1], "in": "path", "required": true, "schema": obj{"type": "string"}})
		}
		for _, p := range r.query {
			sch := paramSchema(p)
			q := obj{"name": p.name, "in": "query", "description": p.desc, "schema": sch}
			if p.typ == "list" {
				q["schema"], q["style"], q["explode"] = obj{"type": "array", "items": obj{"type": "string"}}, "form", false
			}
			params = append(params, q)
		}
		if params != nil {
			op["parameters"] = params
		}
		if r.body != nil {
			op["requestBody"] = obj{"required": true, "content": obj{"application/json": obj{"schema": g.of(reflect.TypeOf(r.body))}}}
		}
		ok := obj{"description": "OK"}
		switch {
		case r.produces != "" && r.resp == nil:
			ok["content"] = obj{r.produces: obj{"schema": obj{"type": "string"}}}
		case r.resp != nil:
			ct := "application/json"
			if r.produces != "" {
				ct = r.produces
			}
			ok["content"] = obj{ct: obj{"schema": g.of(reflect.TypeOf(r.resp))}}
		}
		responses := obj{"400": errResp("bad request: unknown or bad parameter, bad body")}
		switch {
		case r.id == "live":
			op["description"] = liveDescription
			responses["101"] = obj{"description": "switching to the WebSocket protocol"}
			responses["426"] = errResp("not a WebSocket upgrade")
		case r.method == "DELETE":
			responses["204"] = obj{"description": "done"}
		case r.method == "POST" && r.id == "createSilence":
			responses["201"] = ok
		default:
			responses["200"] = ok
		}
		if r.perm != "" {
			op["security"] = []obj{{"bearer": []string{}}}
			op["x-permission"] = string(r.perm)
			responses["401"] = errResp("no token, or an unknown, forged or expired one")
			responses["403"] = errResp("the caller's role does not allow it")
			responses["429"] = errResp("too many requests for this token")
		}
		if strings.Contains(r.path, ":id") {
			responses["404"] = errResp("not found, or not the caller's to see")
		}
		if r.audit != "" {
			op["x-audit-action"] = r.audit
			responses["409"] = errResp("not possible in the resource's state")
		}
		responses["503"] = errResp("the function does not run in this process")
		op["responses"] = responses
		path := APIPrefix + openAPIPath(r.path)
		if paths[path] == nil {
			paths[path] = obj{}
		}
		paths[path].(obj)[strings.ToLower(r.method)] = op
	}
	return obj{
		"openapi": "3.0.3",
		"info": obj{"title": "Hải Đăng IOC API", "version": s.opts.Version,
			"description": "The provincial Intelligent Operations Center's API. Every answer is JSON unless stated; errors carry a stable code and a message in Vietnamese and English. Lists take limit, offset and sort (a leading - for descending) and answer {items, total, limit, offset}. Roles: " + rolesText() + "."},
		"servers": []obj{{"url": "/"}},
		"paths":   paths,
		"components": obj{
			"schemas":         g.defs,
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer", "description": "an API key (ioc token) or a JWT of the configured identity provider"}},
		},
	}
}

func rolesText() string {
	var b []string
	for _, r := range auth.Roles {
		b = append(b, string(r))
	}
	return strings.Join(b, ", ")
}

func (s *Server) openAPI(c *fiber.Ctx, _ *auth.Principal) error {
	s.docOnce.Do(func() { s.doc, _ = json.MarshalIndent(s.document(), "", "  ") })
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(s.doc)
}
