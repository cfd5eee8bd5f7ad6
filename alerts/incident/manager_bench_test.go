package incident

import (
	"fmt"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/alerts"
)

// BenchmarkAlertChanged is the incidents' cost on the alert engine's goroutine: 200 open
// incidents of 50 alerts each; each op is one event of one of their alerts (acknowledged,
// then its severity raised, in turn), noted in the incident's timeline and queued for the
// store.
func BenchmarkAlertChanged(b *testing.B) {
	m, _, _ := newManager(&testing.T{})
	go func() { // the store's queue drains as in production
		for b.Context().Err() == nil {
			m.events.Run(b.Context(), time.Second)
		}
	}()
	const keys, per = 200, 50
	now := t0
	as := make([]alerts.Alert, keys*per)
	for i := range as {
		as[i] = alert(fmt.Sprintf("a%d", i), "heavy_rain_1h", fmt.Sprintf("gauge-%d", i), "Sa Pa", fmt.Sprintf("basin-%d", i%keys),
			"weather", "heavyRain", alerts.SeverityMedium, "flood_control")
		fire(m, as[i], now)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		now = now.Add(time.Millisecond)
		a := &as[i%len(as)]
		kind := alerts.EventAcknowledged
		if (i/len(as))%2 == 1 {
			kind, a.Severity = alerts.EventUpdated, alerts.SeverityHigh
		}
		m.AlertChanged(alerts.Event{Time: now, Kind: kind, Actor: "op", Alert: *a}, now)
	}
	b.StopTimer()
	if n := len(m.byID); n != keys {
		b.Fatalf("%d incidents, want %d", n, keys)
	}
}
