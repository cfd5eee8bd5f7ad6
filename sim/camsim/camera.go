package camsim

import (
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtp"
)

// Config is one simulated camera.
type Config struct {
	ID            string
	Width, Height int
	FPS           int
	// Keyint is the number of frames between IDR pictures; 0 means two seconds' worth.
	Keyint int
	// BitrateKbps pads the stream with filler data to about this rate; 0 sends it unpadded.
	BitrateKbps int
	// Metadata offers an ONVIF metadata track (application/vnd.onvif.metadata).
	Metadata bool
	// MetadataInterval is how often a metadata document is sent: the next scripted event, or
	// an empty analytics frame as a heartbeat. 0 means one second.
	MetadataInterval time.Duration
	// Script is the sequence of events the metadata track repeats; empty sends heartbeats only.
	Script []ScriptEvent
	// NoVideo offers the metadata track alone.
	NoVideo bool
	// User and Password, when set, are the credentials the camera demands.
	User, Password string
	// Path is the stream's path; empty means /stream.
	Path string
	// Picture draws a street scene with the camera's id and a clock instead of a flat grey
	// picture; it costs 384 bytes a macroblock in each IDR picture, so it suits small streams.
	Picture bool
	// ONVIFAddr, when set, serves the camera's ONVIF device and media services and its JPEG
	// snapshot there (host:port): see DeviceURL.
	ONVIFAddr string
}

// Fault is what is wrong with a camera now; the zero Fault is a healthy camera.
type Fault struct {
	// Refuse closes the camera's port: connections are refused.
	Refuse bool
	// Hang accepts connections and never answers them.
	Hang bool
	// StallAfter stops all media (the RTSP session stays up) this long after the fault is set;
	// with Stall true it stops at once.
	StallAfter time.Duration
	Stall      bool
	// DropPercent drops this share of RTP packets, at random.
	DropPercent float64
	// FPS sends only this many frames per second (the SPS still announces the configured rate);
	// 0 sends them all.
	FPS int
	// BitrateKbps overrides the configured padding, to make a camera's bitrate fall.
	BitrateKbps int
	// BadMetadata sends broken XML on the metadata track instead of documents.
	BadMetadata bool
}

// Camera is one simulated IP camera: its own RTSP server on its own port, H.264 video that any
// client decodes, an optional ONVIF metadata track, and faults that can be set at any time.
type Camera struct {
	cfg  Config
	addr string
	log  *slog.Logger

	video, meta   *description.Media
	videoFormat   *format.H264
	encoder       *rtph264.Encoder
	gop           *gop
	metaPayloadTy uint8

	mu           sync.Mutex
	fault        Fault
	stallAt      time.Time
	srv          *gortsplib.Server
	stream       *gortsplib.ServerStream
	hang         net.Listener
	hangConn     []net.Conn
	videoReaders int // playing sessions that set up the video track
	metaReaders  int // playing sessions that set up the metadata track
	closed       bool

	web *http.Server // the ONVIF services, when configured

	wake    chan struct{}
	done    chan struct{}
	exited  chan struct{}
	rnd     *rand.Rand // run's own, like the fields below
	script  int
	metaSeq uint16
}

// NewCamera starts a camera listening on addr (host:port).
func NewCamera(cfg Config, addr string, log *slog.Logger) (*Camera, error) {
	if cfg.Keyint == 0 {
		cfg.Keyint = 2 * cfg.FPS
	}
	if cfg.MetadataInterval == 0 {
		cfg.MetadataInterval = time.Second
	}
	if cfg.Path == "" {
		cfg.Path = "/stream"
	}
	g, err := newGOP(videoParams{Width: cfg.Width, Height: cfg.Height, FPS: cfg.FPS}, cfg.Keyint, cfg.BitrateKbps*1000)
	if err != nil {
		return nil, fmt.Errorf("camera %s: %w", cfg.ID, err)
	}
	if cfg.Picture {
		g.pic = newPicture(g.p, cfg.ID)
	}
	h := fnv.New64a()
	h.Write([]byte(cfg.ID))
	c := &Camera{
		cfg: cfg, addr: addr, log: log.With("camera", cfg.ID), gop: g,
		wake: make(chan struct{}, 1), done: make(chan struct{}), exited: make(chan struct{}),
		rnd:           rand.New(rand.NewPCG(h.Sum64(), 1)),
		metaPayloadTy: 107,
	}
	c.videoFormat = &format.H264{PayloadTyp: 96, SPS: g.sps, PPS: g.pps, PacketizationMode: 1}
	c.encoder, err = c.videoFormat.CreateEncoder()
	if err != nil {
		return nil, fmt.Errorf("camera %s: H.264 encoder: %w", cfg.ID, err)
	}
	if !cfg.NoVideo {
		c.video = &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{c.videoFormat}}
	}
	if cfg.Metadata {
		c.meta = &description.Media{Type: description.MediaTypeApplication, Formats: []format.Format{&format.Generic{
			PayloadTyp: c.metaPayloadTy, RTPMa: "vnd.onvif.metadata/90000", ClockRat: 90000}}}
	}
	if err := c.listen(); err != nil {
		return nil, err
	}
	go c.run() // owned by c: Close stops it and waits
	if cfg.ONVIFAddr != "" {
		if err := c.startONVIF(); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// URL is the camera's RTSP URL, without credentials.
func (c *Camera) URL() string { return "rtsp://" + c.addr + c.cfg.Path }

// ID is the camera's id.
func (c *Camera) ID() string { return c.cfg.ID }

// SetFault replaces the camera's fault; the zero Fault heals it.
func (c *Camera) SetFault(f Fault) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("camera closed")
	}
	wasDown := c.fault.Refuse || c.fault.Hang
	c.fault = f
	c.stallAt = time.Time{}
	switch {
	case f.Stall:
		c.stallAt = time.Now()
	case f.StallAfter > 0:
		c.stallAt = time.Now().Add(f.StallAfter)
	}
	down := f.Refuse || f.Hang
	if down && !wasDown {
		c.closeServerLocked()
	}
	if wasDown {
		c.closeHangLocked()
	}
	var err error
	switch {
	case f.Hang && c.hang == nil:
		err = c.hangLocked()
	case !down && c.srv == nil:
		err = c.startServerLocked()
	}
	return err
}

func (c *Camera) listen() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.startServerLocked()
}

func (c *Camera) startServerLocked() error {
	srv := &gortsplib.Server{Handler: (*handler)(c), RTSPAddress: c.addr, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("camera %s: listen on %s: %w", c.cfg.ID, c.addr, err)
	}
	var medias []*description.Media
	if c.video != nil {
		medias = append(medias, c.video)
	}
	if c.meta != nil {
		medias = append(medias, c.meta)
	}
	st := &gortsplib.ServerStream{Server: srv, Desc: &description.Session{Medias: medias}}
	if err := st.Initialize(); err != nil {
		srv.Close()
		return fmt.Errorf("camera %s: stream: %w", c.cfg.ID, err)
	}
	c.srv, c.stream, c.videoReaders, c.metaReaders = srv, st, 0, 0
	return nil
}

func (c *Camera) closeServerLocked() {
	if c.srv == nil {
		return
	}
	srv, st := c.srv, c.stream
	c.srv, c.stream, c.videoReaders, c.metaReaders = nil, nil, 0, 0
	// Closing waits for the server's sessions, whose handlers take c.mu: release it meanwhile.
	c.mu.Unlock()
	st.Close()
	srv.Close()
	c.mu.Lock()
}

// hangLocked listens on the camera's port and holds every connection unanswered.
func (c *Camera) hangLocked() error {
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("camera %s: listen on %s: %w", c.cfg.ID, c.addr, err)
	}
	c.hang = ln
	go func() { // owned by the listener: ends when closeHangLocked closes it
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.hangConn = append(c.hangConn, conn)
			c.mu.Unlock()
		}
	}()
	return nil
}

func (c *Camera) closeHangLocked() {
	if c.hang != nil {
		c.hang.Close()
		c.hang = nil
	}
	for _, conn := range c.hangConn {
		conn.Close()
	}
	c.hangConn = nil
}

// Close stops the camera.
func (c *Camera) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.closeServerLocked()
	c.closeHangLocked()
	c.mu.Unlock()
	close(c.done)
	c.closeONVIF()
	<-c.exited
}

// run sends frames and metadata documents while someone plays the stream.
func (c *Camera) run() {
	defer close(c.exited)
	start := time.Now()
	var frameTick, metaTick *time.Ticker
	stopTicks := func() {
		if frameTick != nil {
			frameTick.Stop()
			metaTick.Stop()
			frameTick, metaTick = nil, nil
		}
	}
	defer stopTicks()
	fps := 0
	for {
		c.mu.Lock()
		playing := c.videoReaders > 0 || c.metaReaders > 0
		video, meta := c.videoReaders > 0, c.metaReaders > 0
		want := c.cfg.FPS
		if c.fault.FPS > 0 && c.fault.FPS < want {
			want = c.fault.FPS
		}
		c.mu.Unlock()
		if !playing {
			stopTicks()
			select {
			case <-c.done:
				return
			case <-c.wake:
				continue
			}
		}
		if frameTick == nil || fps != want {
			stopTicks()
			fps = want
			frameTick = time.NewTicker(time.Second / time.Duration(fps))
			metaTick = time.NewTicker(c.cfg.MetadataInterval)
		}
		select {
		case <-c.done:
			return
		case <-c.wake:
		case now := <-frameTick.C:
			if video {
				c.sendFrame(now, start)
			}
		case now := <-metaTick.C:
			if meta {
				c.sendMetadata(now, start)
			}
		}
	}
}

// rtpTime is the 90 kHz media clock of now.
func rtpTime(now, start time.Time) uint32 {
	return uint32(now.Sub(start).Microseconds() * 9 / 100)
}

func (c *Camera) sendFrame(now, start time.Time) {
	if c.video == nil {
		return
	}
	c.mu.Lock()
	kbps := c.cfg.BitrateKbps
	if c.fault.BitrateKbps > 0 {
		kbps = c.fault.BitrateKbps
	}
	c.mu.Unlock()
	c.gop.padTo = kbps * 1000 / 8 / c.cfg.FPS
	au := c.gop.next(now)
	pkts, err := c.encoder.Encode(au)
	if err != nil {
		c.log.Error("encode a frame", "err", err)
		return
	}
	ts := rtpTime(now, start)
	for _, p := range pkts {
		p.Timestamp = ts
	}
	c.write(c.video, pkts, now)
}

func (c *Camera) sendMetadata(now, start time.Time) {
	if c.meta == nil {
		return
	}
	c.mu.Lock()
	bad := c.fault.BadMetadata
	c.mu.Unlock()
	var doc []byte
	switch {
	case bad:
		doc = []byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><tt:MetadataStream>&a;&a;<tt:Event>`)
	case len(c.cfg.Script) > 0:
		ev := c.cfg.Script[c.script%len(c.cfg.Script)]
		c.script++
		doc = ev.document(now)
	default:
		doc = heartbeatDocument(now)
	}
	const chunk = 1200
	var pkts []*rtp.Packet
	for off := 0; off < len(doc); off += chunk {
		end := min(off+chunk, len(doc))
		pkts = append(pkts, &rtp.Packet{
			Header: rtp.Header{Version: 2, PayloadType: c.metaPayloadTy, SequenceNumber: c.metaSeq, Timestamp: rtpTime(now, start),
				SSRC: 0x0e0e0e0e, Marker: end == len(doc)},
			Payload: doc[off:end],
		})
		c.metaSeq++
	}
	c.write(c.meta, pkts, now)
}

// write sends pkts unless a fault holds them back.
func (c *Camera) write(m *description.Media, pkts []*rtp.Packet, now time.Time) {
	c.mu.Lock()
	st := c.stream
	stalled := !c.stallAt.IsZero() && !now.Before(c.stallAt)
	drop := c.fault.DropPercent
	c.mu.Unlock()
	if st == nil || stalled {
		return
	}
	for _, p := range pkts {
		if drop > 0 && c.rnd.Float64()*100 < drop {
			continue
		}
		if err := st.WritePacketRTP(m, p); err != nil {
			return
		}
	}
}

// handler is the camera's RTSP server side.
type handler Camera

func (h *handler) cam() *Camera { return (*Camera)(h) }

// OnDescribe implements gortsplib.ServerHandlerOnDescribe.
func (h *handler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return h.serveStream(ctx.Path, ctx.Conn, ctx.Request)
}

// OnSetup implements gortsplib.ServerHandlerOnSetup.
func (h *handler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return h.serveStream(ctx.Path, ctx.Conn, ctx.Request)
}

// serveStream answers DESCRIBE and SETUP: the camera's stream, to those who give its credentials.
func (h *handler) serveStream(path string, conn *gortsplib.ServerConn, req *base.Request) (*base.Response, *gortsplib.ServerStream, error) {
	c := h.cam()
	if path != c.cfg.Path {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	if c.cfg.User != "" && !conn.VerifyCredentials(req, c.cfg.User, c.cfg.Password) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return &base.Response{StatusCode: base.StatusOK}, c.stream, nil
}

// OnPlay implements gortsplib.ServerHandlerOnPlay.
func (h *handler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	c := h.cam()
	c.mu.Lock()
	if ctx.Session.UserData() == nil {
		v, m := c.setupOf(ctx.Session)
		ctx.Session.SetUserData(&reader{stream: c.stream, video: v, meta: m}) // counted once, against this server's stream
		if v {
			c.videoReaders++
		}
		if m {
			c.metaReaders++
		}
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnSessionClose implements gortsplib.ServerHandlerOnSessionClose.
func (h *handler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	c := h.cam()
	c.mu.Lock()
	if r, _ := ctx.Session.UserData().(*reader); r != nil && r.stream == c.stream {
		if r.video {
			c.videoReaders--
		}
		if r.meta {
			c.metaReaders--
		}
	}
	c.mu.Unlock()
}

// reader is what a playing session set up, kept on the session.
type reader struct {
	stream      *gortsplib.ServerStream
	video, meta bool
}

// setupOf tells which of the camera's tracks a session set up.
func (c *Camera) setupOf(ss *gortsplib.ServerSession) (video, meta bool) {
	for _, m := range ss.SetuppedMedias() {
		video = video || (c.video != nil && m == c.video)
		meta = meta || (c.meta != nil && m == c.meta)
	}
	return video, meta
}
