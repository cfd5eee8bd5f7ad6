package dashboard

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
)

// A receiver whose deliveries keep failing shows as failing, with its units and last error,
// to those who may diagnose; the wall screen may not ask.
func TestNotificationChannels(t *testing.T) {
	f := newFixture(t, 0)
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String() + "/"
	dead.Close() // nothing listens: every attempt fails
	cfg := config.Default().Alerts
	cfg.Retry = config.Retry{Attempts: 3, Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond}
	cfg.Receivers = []config.Receiver{{Name: "pctt-hook", Type: "webhook", Units: []string{"flood_control"}, URL: deadURL}}
	store := f.srv.src.AlertHistory.(*alerts.ClickHouseStore)
	d, err := alerts.NewDispatcher(cfg, f.engine, store, func(string) string { return "" }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	f.srv.src.Channels = d
	d.Notify(alerts.Notification{Event: alerts.Event{Time: time.Now(), Kind: alerts.EventFiring, Alert: f.alert}, Units: []string{"flood_control"}, Group: "g"})
	testenv.WaitFor(t, "the channel failing", 20*time.Second, func() bool {
		cs := d.Channels()
		return len(cs) == 1 && cs[0].Failing
	})
	code, body := f.call(t, "operator", "GET", APIPrefix+"/notifications/channels", "")
	var got []alerts.ChannelState
	if code != 200 || json.Unmarshal(body, &got) != nil || len(got) != 1 || !got[0].Failing || got[0].Failures < alerts.FailingAfter ||
		got[0].LastError == "" || got[0].Units[0] != "flood_control" {
		t.Fatalf("channels: %d %s", code, body)
	}
	if code, _ := f.call(t, "viewer", "GET", APIPrefix+"/notifications/channels", ""); code != 403 {
		t.Errorf("the wall screen asking: %d, want 403", code)
	}
}
