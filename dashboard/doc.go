// Package dashboard serves HTTP with fiber: /healthz with each dependency's state, /metrics
// for Prometheus, the public warning feed (CAP 1.2 over Atom), and the embedded web UI. It holds no business rules: it shows and serves
// what the other packages produce.
package dashboard
