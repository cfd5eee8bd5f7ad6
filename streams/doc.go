// Package streams watches cameras over RTSP with gortsplib, without decoding video: what a
// camera offers (codec, resolution, metadata track), and, as it grows, supervised sessions,
// stream health and ONVIF analytics events. Camera credentials never leave it: every URL it
// reports or puts in an error is redacted. It knows nothing of ClickHouse, rules or HTTP.
package streams
