// Package dashboard serves HTTP with fiber: /healthz with each dependency's state, /metrics
// for Prometheus, and the embedded web UI. It holds no business rules: it shows and serves
// what the other packages produce.
package dashboard
