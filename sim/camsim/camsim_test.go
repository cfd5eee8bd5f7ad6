package camsim

import (
	"bytes"
	"context"
	"fmt"
	"github.com/haidang-ioc/ioc/internal/testenv"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
}

// A third-party client, ffprobe, reads the simulated camera's codec, size and frame rate as
// configured, and ffmpeg decodes its frames without an error.
func TestFFmpegAcceptsTheSimulatedStream(t *testing.T) {
	testenv.Integration(t)
	for _, tool := range []string{"ffprobe", "ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: `deploy/local/services.sh start` installs Debian's ffmpeg (make test runs it)", tool)
		}
	}
	for _, c := range []Config{
		{ID: "hd", Width: 1920, Height: 1080, FPS: 25, BitrateKbps: 2000},
		{ID: "sub", Width: 640, Height: 360, FPS: 15},
	} {
		t.Run(c.ID, func(t *testing.T) {
			cam, err := NewCamera(c, freeAddr(t), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer cam.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0",
				"-show_entries", "stream=codec_name,width,height,r_frame_rate", "-of", "default=noprint_wrappers=1", cam.URL()).CombinedOutput()
			if err != nil {
				t.Fatalf("ffprobe: %v\n%s", err, out)
			}
			want := fmt.Sprintf("codec_name=h264\nwidth=%d\nheight=%d\nr_frame_rate=%d/1\n", c.Width, c.Height, c.FPS)
			if string(out) != want {
				t.Errorf("ffprobe says\n%s\nwant\n%s", out, want)
			}
			out, err = exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", cam.URL(), "-t", "2", "-f", "null", "-").CombinedOutput()
			if err != nil || len(strings.TrimSpace(string(out))) > 0 {
				t.Errorf("ffmpeg decoding: %v\n%s", err, out)
			}
		})
	}
}

func TestParseFaults(t *testing.T) {
	faults, wrong, err := ParseFaults("3=refuse, 5=stall:30s,6=stall,7=drop:12.5,9=fps:5,10=bitrate:100,11=password,12=hang,13=badmeta")
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]Fault{3: {Refuse: true}, 5: {StallAfter: 30 * time.Second}, 6: {Stall: true}, 7: {DropPercent: 12.5},
		9: {FPS: 5}, 10: {BitrateKbps: 100}, 12: {Hang: true}, 13: {BadMetadata: true}}
	if fmt.Sprint(faults) != fmt.Sprint(want) || len(wrong) != 1 || !wrong[11] {
		t.Errorf("faults %v wrong %v", faults, wrong)
	}
	for _, bad := range []string{"x=refuse", "0=refuse", "3=explode", "3=drop:150", "3=fps", "3=stall:soon", "3"} {
		if _, _, err := ParseFaults(bad); err == nil {
			t.Errorf("ParseFaults(%q) took it", bad)
		}
	}
}

func TestGOPRejectsImpossibleVideo(t *testing.T) {
	for _, p := range []videoParams{{Width: 15, Height: 16, FPS: 25}, {Width: 641, Height: 360, FPS: 25}, {Width: 640, Height: 360, FPS: 0}} {
		if _, err := newGOP(p, 25, 0); err == nil {
			t.Errorf("newGOP(%+v) took it", p)
		}
	}
}

// ffmpeg decodes a drawn camera's pictures sample for sample as drawn (I_PCM is lossless),
// and the clock that a P picture recodes each second moves.
func TestFFmpegDecodesTheDrawnPicture(t *testing.T) {
	testenv.Integration(t)
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg is not installed: `deploy/local/services.sh start` installs Debian's ffmpeg (make test runs it)")
	}
	cfg := Config{ID: "cam-lc-07", Width: 320, Height: 180, FPS: 10, Keyint: 40, Picture: true}
	cam, err := NewCamera(cfg, freeAddr(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const frames = 16
	before := time.Now()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", cam.URL(),
		"-frames:v", fmt.Sprint(frames), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	size := cfg.Width * cfg.Height * 3 / 2 // the luma plane first: what is compared
	if len(out) != frames*size {
		t.Fatalf("ffmpeg gave %d bytes, want %d frames of %d", len(out), frames, size)
	}
	pic := newPicture(videoParams{Width: cfg.Width, Height: cfg.Height, FPS: cfg.FPS}, cfg.ID)
	// shown is the time the decoded frame's clock row shows, from the seconds the run spans
	shown := func(frame []byte) string {
		for s := before.Add(-time.Second); s.Before(time.Now().Add(time.Second)); s = s.Add(time.Second) {
			want := pic.frame(s)
			same := true
			for y := range cfg.Height {
				if !bytes.Equal(frame[y*cfg.Width:(y+1)*cfg.Width], want.Y[y*want.YStride:y*want.YStride+cfg.Width]) {
					same = false
					break
				}
			}
			if same {
				return clockText(s)
			}
		}
		return ""
	}
	first, last := shown(out[:size]), shown(out[(frames-1)*size:])
	if first == "" || last == "" {
		t.Fatalf("the decoded pictures are not the drawn ones (first shows %q, last %q)", first, last)
	}
	if first == last {
		t.Errorf("the clock did not move in %d frames at %d fps: %s", frames, cfg.FPS, first)
	}
}
