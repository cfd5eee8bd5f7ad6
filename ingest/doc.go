// Package ingest takes sensor readings from the MQTT broker into the system: it subscribes with
// paho (QoS 1, a persistent session, acknowledgement only once a message is stored), decodes
// each payload, validates every record, and hands the resulting readings and dead letters to a
// Sink. It owns the Reading and DeadLetter types and the stable reasons for rejecting input; it
// knows nothing of ClickHouse, rules or HTTP.
package ingest
