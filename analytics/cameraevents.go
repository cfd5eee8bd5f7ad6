package analytics

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/haidang-ioc/ioc/streams"
)

// MaxCameraEvents bounds one answer of CameraEvents.
const MaxCameraEvents = 1000

// CameraEvents returns a camera's analytics events in [from, to), newest first, at most limit
// (1 to MaxCameraEvents), of the kinds given (every kind when none).
func (q *Querier) CameraEvents(ctx context.Context, camera string, from, to time.Time, kinds []string, limit int) ([]streams.CameraEvent, error) {
	ctx, cancel := context.WithTimeout(ctx, q.lim.Timeout)
	defer cancel()
	if err := q.checkRange(from, to); err != nil {
		return nil, err
	}
	if limit < 1 || limit > MaxCameraEvents {
		return nil, refuse(CodeBadParam, "limit %d: want 1 to %d", limit, MaxCameraEvents)
	}
	for _, k := range kinds {
		if !slices.Contains(streams.EventKinds, k) {
			return nil, refuse(CodeBadParam, "kind %q: want one of %s", k, strings.Join(streams.EventKinds, ", "))
		}
	}
	// ts holds whole seconds and ms the rest: [from, to) to the millisecond
	fromS, toS := from.UTC().Truncate(time.Second), to.UTC().Truncate(time.Second)
	where := "camera_id = ? AND ts >= ? AND ts <= ? AND (ts > ? OR ms >= ?) AND (ts < ? OR ms < ?)"
	args := []any{camera, fromS, toS, fromS, from.Sub(fromS).Milliseconds(), toS, to.Sub(toS).Milliseconds()}
	if len(kinds) > 0 {
		where += " AND kind IN ?"
		args = append(args, StringSet(kinds))
	}
	rows, err := q.conn.Query(q.ctx(ctx), fmt.Sprintf(`SELECT ts, ms, toString(source), toString(kind), toString(topic), rule, state,
       toString(object_class), object_id, plate, score, count
FROM camera_events FINAL WHERE %s ORDER BY ts DESC, ms DESC LIMIT %d`, where, limit), args...)
	return collect(ctx, rows, err, func(rows driver.Rows, v *streams.CameraEvent) error {
		var ms uint16
		var score float32
		var kind string
		if err := rows.Scan(&v.Time, &ms, &v.Source, &kind, &v.Topic, &v.Rule, &v.State, &v.ObjectClass, &v.ObjectID, &v.Plate, &score, &v.Count); err != nil {
			return err
		}
		v.Time = v.Time.UTC().Add(time.Duration(ms) * time.Millisecond)
		v.Camera, v.Kind, v.Score = camera, streams.EventKind(kind), float64(score)
		return nil
	})
}
