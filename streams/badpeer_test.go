package streams_test

import (
	"bufio"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/sim/camsim"
	"github.com/haidang-ioc/ioc/streams"
)

// badCamera is an RTSP peer that answers OPTIONS properly and then misbehaves as told:
// "sdp" describes a stream with a broken SDP, "garbage" answers DESCRIBE with bytes that are
// not RTSP, "rtp" describes H.264 properly and then plays interleaved frames of garbage.
func badCamera(t *testing.T, how string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serveBadCamera(conn, how)
		}
	}()
	return "rtsp://" + ln.Addr().String() + "/stream"
}

func serveBadCamera(conn net.Conn, how string) {
	defer conn.Close()
	r := textproto.NewReader(bufio.NewReader(conn))
	for {
		line, err := r.ReadLine()
		if err != nil {
			return
		}
		hdr, err := r.ReadMIMEHeader()
		if err != nil {
			return
		}
		method, cseq := strings.Fields(line)[0], hdr.Get("Cseq")
		reply := func(extra, body string) {
			fmt.Fprintf(conn, "RTSP/1.0 200 OK\r\nCSeq: %s\r\n%sContent-Length: %d\r\n\r\n%s", cseq, extra, len(body), body)
		}
		switch {
		case method == "OPTIONS":
			reply("Public: DESCRIBE, SETUP, PLAY, TEARDOWN\r\n", "")
		case method == "DESCRIBE" && how == "sdp":
			reply("Content-Type: application/sdp\r\n", "v=0\r\nm=video notaport RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\nc=IN IP4\r\n")
		case method == "DESCRIBE" && how == "garbage":
			fmt.Fprint(conn, "\x00\x01\x02 HTTP/9.9 ??? \r\n\r\n\xff\xfe")
			return
		case method == "DESCRIBE":
			reply("Content-Type: application/sdp\r\nContent-Base: rtsp://x/stream/\r\n", "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"+
				"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\na=control:trackID=0\r\n")
		case method == "SETUP":
			reply("Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nSession: 12345678\r\n", "")
		case method == "PLAY":
			reply("Session: 12345678\r\n", "")
			for i := 0; ; i++ {
				// Interleaved frames of 12 bytes that are no RTP packet (version 0), then a
				// frame too short to hold an RTP header.
				frame := []byte{'$', 0, 0, 12, 0, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8}
				if i%2 == 1 {
					frame = []byte{'$', 0, 0, 2, 0x80, 0x60}
				}
				if _, err := conn.Write(frame); err != nil {
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		default:
			reply("", "")
		}
	}
}

// Broken SDP, RTSP answers that are not RTSP, and RTP that is not RTP put a reason on their
// camera's state; the healthy camera beside them never notices.
func TestBadPeersAreReasonsNotCrashes(t *testing.T) {
	good := startCamera(t, camsim.Config{ID: "cam-good", Width: 320, Height: 240, FPS: 10})
	w := watch(t, fastStreams(), "cameras:"+
		catalogEntry("cam-sdp", badCamera(t, "sdp"), "    mode: health\n")+
		catalogEntry("cam-garbage", badCamera(t, "garbage"), "    mode: health\n")+
		catalogEntry("cam-rtp", badCamera(t, "rtp"), "    mode: health\n")+
		catalogEntry("cam-good", good.URL(), "    mode: health\n"))
	w.waitState(t, "cam-sdp", streams.StateOffline, streams.ReasonBadSDP, 5*time.Second)
	st := w.waitState(t, "cam-garbage", streams.StateOffline, streams.ReasonError, 5*time.Second)
	if st.Detail == "" {
		t.Error("no detail for the garbage answer")
	}
	// Garbage RTP is dropped by the client: no video arrives, so the camera stalls.
	w.waitState(t, "cam-rtp", streams.StateOffline, streams.ReasonStalled, 6*time.Second)
	w.waitState(t, "cam-good", streams.StateOnline, "", 5*time.Second)
	if st := w.measured(t, "cam-good", 10*time.Second); st.State != streams.StateOnline || st.FPS < 5 {
		t.Errorf("the healthy camera beside the bad ones: %+v", st)
	}
}
