// Package alerts will turn readings and camera events into alerts: rules evaluated on the
// stream, the alert lifecycle (pending, firing, acknowledged, resolved) stored as append-only
// events, routing to the units that act (police, traffic police, flood control, water
// utility), escalation, silences, notifiers and the CAP 1.2 public warning feed. It declares
// the small interfaces it needs from ingest, streams and its store; it serves no HTTP itself.
//
// Nothing is here yet: the alert engine is the next piece of work after the walking skeleton.
package alerts
