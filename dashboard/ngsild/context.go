package ngsild

import _ "embed"

// Context is the JSON-LD @context of every entity served: the NGSI-LD core terms the answers
// use, the Smart Data Models terms, and this project's own (urn:haidang-ioc:terms:) for what the
// models lack. The dashboard serves it at ContextPath, so that partners resolve every term
// without the internet.
//
//go:embed context.jsonld
var Context []byte

// ContextPath is where the dashboard serves Context.
const ContextPath = "/ngsi-ld/v1/contexts/ioc.jsonld"

// Link is the Link header that names the @context at url, for an application/json answer or
// notification.
func Link(url string) string {
	return "<" + url + `>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`
}
