// Package streams watches a province's cameras over RTSP with gortsplib, without decoding
// video: the camera catalog, one supervised session per camera (metadata, health or probe mode,
// reconnecting with backoff), stream health measured from RTP alone (codec and size from the
// SPS, frame rate, bitrate, keyframe interval, loss, jitter), camera states with reasons, and
// ONVIF analytics events parsed from the metadata track. Camera credentials never leave it:
// every URL it reports or puts in an error is redacted. It knows nothing of ClickHouse, rules
// or HTTP; what it observes goes to a Sink.
package streams
