// Package camsim simulates IP cameras for tests, benchmarks and the demo: each camera is a
// gortsplib RTSP server on its own port that streams real H.264 (flat grey pictures that any
// decoder accepts, at the resolution and frame rate asked for) and, optionally, an ONVIF
// metadata track with a scripted sequence of analytics events. Faults (refused or hung port,
// wrong password, stalled media, packet loss, a lower frame rate or bitrate) can be set on any
// camera at any time.
package camsim
