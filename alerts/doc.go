// Package alerts turns readings and camera observations into alerts: the rule file and its
// evaluation on the stream (thresholds, báo động levels, rates that look past the tide,
// windows, silence, camera states and events, district composites), the alert lifecycle
// (pending, firing, acknowledged, resolved) kept as append-only events from which a restart
// rebuilds the live alerts, routing to the units that act (police, traffic police, fire police,
// flood control, water utility, IOC) with grouping, silences, inhibition and escalation, the
// notifiers (webhook, email, SMS/Zalo gateway) and the CAP 1.2 public warning feed.
//
// It declares the small interfaces it needs (Store, Notifier, Live, Receiver, AttemptLog, CAPStore) and serves no HTTP
// itself: the dashboard does.
package alerts
