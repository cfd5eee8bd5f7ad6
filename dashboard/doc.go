// Package dashboard serves HTTP with fiber: the API under /api/v1 (one route table: sensors,
// cameras, districts, alerts and their actions, silences, rules, trends and exports, health,
// the audit log; its OpenAPI 3 document is generated from the same table), the live WebSocket
// hub at /api/v1/live, /healthz, /metrics, the public warning feed (CAP 1.2 over Atom) and the
// embedded web UI. Every API route checks the caller's token and role (package auth); a unit
// sees and acts on only the alerts routed to its units; every change is kept in the audit log.
// It holds no business rules: it shows and serves what the other packages produce.
package dashboard
