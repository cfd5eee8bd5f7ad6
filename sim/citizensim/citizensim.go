// Package citizensim is a simulated citizen app: it sends reports from the scene (phản ánh
// hiện trường) to ioc's citizen report API, as a real app does — multipart, a device id, a
// client id per report — each with photos it draws and tags with EXIF (where and when they
// were taken), at places of the simulated province.
package citizensim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/haidang-ioc/ioc/internal/geo"
)

// Place is where citizens may report from: a named spot of the province.
type Place struct {
	Name     string
	Location geo.Location
}

// Config sets the app.
type Config struct {
	// Base is ioc's address, such as http://127.0.0.1:8080.
	Base string
	// Token is the app's API key (role app).
	Token string
	// Every is the mean time between two reports; the first few go at once.
	Every time.Duration
	// Places are where reports come from (jittered by up to 80 m).
	Places []Place
	// Now is the clock the reports and photos are dated by (a simulation's).
	Now  func() time.Time
	Seed uint64
}

// App is the simulated citizen app.
type App struct {
	cfg  Config
	http *http.Client
	rnd  *rand.Rand
	log  *slog.Logger
	// run names this app's run in its client ids: a restarted demo's reports are new ones, not
	// resends of the last run's (the same seed draws the same reports)
	run string
	n   int
}

// New makes an app.
func New(cfg Config, log *slog.Logger) *App {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &App{cfg: cfg, http: &http.Client{Timeout: 30 * time.Second}, rnd: rand.New(rand.NewPCG(cfg.Seed, 26)), log: log,
		run: strconv.FormatInt(time.Now().UnixNano(), 36)}
}

// kinds are the reports the simulated citizens send: a category, what they write, and the
// colour of what their photo shows.
var kinds = []struct {
	category, text string
	thing          color.RGBA
}{
	{"sanitation", "Rác thải sinh hoạt tập kết trái phép tại %s, bốc mùi hôi nhiều ngày, đề nghị thu gom.", color.RGBA{R: 110, G: 84, B: 50, A: 255}},
	{"encroachment", "Hàng quán lấn chiếm vỉa hè tại %s, người đi bộ phải đi xuống lòng đường.", color.RGBA{R: 200, G: 60, B: 40, A: 255}},
	{"street_lighting", "Đèn chiếu sáng khu vực %s bị hỏng, buổi tối rất tối, mất an toàn.", color.RGBA{R: 40, G: 40, B: 60, A: 255}},
	{"flooding", "Đường ở %s ngập sâu sau mưa, xe máy chết máy giữa đường.", color.RGBA{R: 90, G: 120, B: 150, A: 255}},
	{"traffic", "Xe tải đỗ sai quy định gây ùn tắc tại %s giờ cao điểm.", color.RGBA{R: 230, G: 200, B: 40, A: 255}},
	{"public_order", "Nhóm thanh niên tụ tập gây mất trật tự tại %s vào ban đêm.", color.RGBA{R: 70, G: 70, B: 90, A: 255}},
	{"illegal_construction", "Công trình xây dựng không có biển báo cấp phép tại %s, vật liệu để tràn ra đường.", color.RGBA{R: 150, G: 150, B: 150, A: 255}},
	{"water_supply", "Nước máy khu vực %s có màu đục và mùi lạ từ sáng nay.", color.RGBA{R: 120, G: 110, B: 70, A: 255}},
}

// Run sends three reports at once, then one every Every or so, until ctx ends. A report the
// server refuses or cannot take is logged; the app goes on.
func (a *App) Run(ctx context.Context) error {
	a.awaitServer(ctx)
	for i := 0; ; i++ {
		if _, err := a.Send(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("simulated citizen report not taken", "err", err)
		}
		wait := time.Duration(0)
		if i >= 2 {
			wait = time.Duration(float64(a.cfg.Every) * (0.5 + a.rnd.Float64()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// awaitServer waits until ioc answers its health probe (it starts beside the app), at most a
// minute.
func (a *App) awaitServer(ctx context.Context) {
	for end := time.Now().Add(time.Minute); time.Now().Before(end); {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(a.cfg.Base, "/")+"/healthz", nil)
		if resp, err := a.http.Do(req); err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Send sends one report and answers its ticket.
func (a *App) Send(ctx context.Context) (string, error) {
	if len(a.cfg.Places) == 0 {
		return "", fmt.Errorf("no places to report from")
	}
	a.n++
	k := kinds[a.rnd.IntN(len(kinds))]
	pl := a.cfg.Places[a.rnd.IntN(len(a.cfg.Places))]
	at := jitter(pl.Location, 80, a.rnd)
	now := a.cfg.Now()
	report := map[string]any{
		"client_id": fmt.Sprintf("sim-%s-%06d", a.run, a.n), "category": k.category,
		"description": fmt.Sprintf(k.text, pl.Name), "location": at, "reported_at": now.UTC().Format(time.RFC3339),
	}
	if a.rnd.IntN(2) == 0 {
		report["contact"] = map[string]string{"name": "Người dân (mô phỏng)", "phone": fmt.Sprintf("09%08d", a.rnd.IntN(100_000_000))}
	}
	doc, _ := json.Marshal(report)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("report", string(doc))
	for i := range 1 + a.rnd.IntN(3) {
		taken := now.Add(-time.Duration(2+a.rnd.IntN(20)) * time.Minute)
		ph, err := Photo(k.thing, i, jitter(at, 20, a.rnd), taken, a.rnd)
		if err != nil {
			return "", err
		}
		w, _ := mw.CreateFormFile("photos", fmt.Sprintf("IMG_%04d.jpg", a.n*10+i))
		_, _ = w.Write(ph)
	}
	_ = mw.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(a.cfg.Base, "/")+"/api/v1/citizen-reports", &body)
	if err != nil {
		return "", fmt.Errorf("citizen report: %w", err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+a.cfg.Token)
	req.Header.Set("X-Device-ID", fmt.Sprintf("sim-device-%03d", a.rnd.IntN(400)))
	resp, err := a.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("citizen report: %w", err)
	}
	defer resp.Body.Close()
	ans, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("citizen report: %d %s", resp.StatusCode, strings.TrimSpace(string(ans)))
	}
	var rc struct {
		Ticket string `json:"ticket"`
	}
	if err := json.Unmarshal(ans, &rc); err != nil {
		return "", fmt.Errorf("citizen report: the answer: %w", err)
	}
	a.log.Info("simulated citizen report", "ticket", rc.Ticket, "category", k.category, "place", pl.Name)
	return rc.Ticket, nil
}

// jitter moves l by up to m metres in a random direction.
func jitter(l geo.Location, m float64, rnd *rand.Rand) geo.Location {
	d, a := m*math.Sqrt(rnd.Float64()), 2*math.Pi*rnd.Float64()
	return geo.Location{Lat: l.Lat + d*math.Cos(a)/111_195, Lon: l.Lon + d*math.Sin(a)/(111_195*math.Cos(l.Lat*math.Pi/180))}
}

// Photo draws a 640 × 480 street photo showing a thing of colour c, as a JPEG whose EXIF says
// it was taken at at, at taken (Vietnam's time).
func Photo(c color.RGBA, n int, at geo.Location, taken time.Time, rnd *rand.Rand) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	horizon := 180 + rnd.IntN(60)
	for y := range 480 {
		for x := range 640 {
			px := color.RGBA{R: 150, G: 190, B: 230, A: 255}
			if y >= horizon {
				px = color.RGBA{R: 95, G: 95, B: 100, A: 255}
				if y > 400 {
					px = color.RGBA{R: 170, G: 160, B: 140, A: 255} // the pavement
				}
			}
			img.SetRGBA(x, y, px)
		}
	}
	// the thing reported, big in the frame, a little differently in each photo
	x0, y0 := 120+rnd.IntN(200)+n*30, horizon+40+rnd.IntN(60)
	for y := y0; y < min(480, y0+140); y++ {
		for x := x0; x < min(640, x0+220); x++ {
			if (x-x0)*(x-x0)/4+(y-y0-140)*(y-y0-140) < 140*140 {
				img.SetRGBA(x, y, c)
			}
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		return nil, fmt.Errorf("draw a photo: %w", err)
	}
	return WithEXIF(buf.Bytes(), EXIF(1, at, taken)), nil
}
