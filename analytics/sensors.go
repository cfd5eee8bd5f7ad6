package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/streams"
)

// SyncSensors mirrors the catalog into the sensors table: every sensor is written with a new
// version, and each sensor that sensors_current still lists but the catalog no longer has is
// written as deleted. Analysts join readings on sensors_current.
func SyncSensors(ctx context.Context, conn driver.Conn, cat *ingest.Catalog) error {
	inCatalog := make(map[string]bool, cat.Len())
	for _, s := range cat.Sensors {
		inCatalog[s.ID] = true
	}
	gone, err := goneIDs(ctx, conn, "sensors_current", inCatalog)
	if err != nil {
		return err
	}

	b, err := conn.PrepareBatch(ctx, `INSERT INTO sensors (id, name, kind, district, commune, lat, lon, owner_unit,
		metrics, units, alarm_i, alarm_ii, alarm_iii, profile, interval_s, deleted, version)`)
	if err != nil {
		return fmt.Errorf("mirror the sensor catalog: %w", err)
	}
	version := uint64(time.Now().UnixNano())
	for _, s := range cat.Sensors {
		metrics, units := make([]string, len(s.Metrics)), make([]string, len(s.Metrics))
		for i, m := range s.Metrics {
			metrics[i], units[i] = m.Name, ingest.Metrics[m.Name].Unit
		}
		var a1, a2, a3 *float64
		if a := s.AlarmLevels; a != nil {
			a1, a2, a3 = &a.I, &a.II, &a.III
		}
		if err := b.Append(s.ID, s.Name, s.Kind, s.District, s.Commune, s.Location.Lat, s.Location.Lon, s.OwnerUnit,
			metrics, units, a1, a2, a3, s.Profile, uint32(s.Interval/time.Second), uint8(0), version); err != nil {
			_ = b.Abort()
			return fmt.Errorf("mirror sensor %s: %w", s.ID, err)
		}
	}
	for _, id := range gone {
		if err := b.Append(id, "", "", "", "", 0.0, 0.0, "", []string{}, []string{}, (*float64)(nil), (*float64)(nil), (*float64)(nil),
			"", uint32(0), uint8(1), version); err != nil {
			_ = b.Abort()
			return fmt.Errorf("mirror removed sensor %s: %w", id, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("mirror the sensor catalog: %w", err)
	}
	return nil
}

// goneIDs lists the ids that a mirror's current view still holds but the catalog does not.
func goneIDs(ctx context.Context, conn driver.Conn, view string, inCatalog map[string]bool) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT id FROM "+view)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", view, err)
	}
	defer rows.Close()
	var gone []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read %s: %w", view, err)
		}
		if !inCatalog[id] {
			gone = append(gone, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", view, err)
	}
	return gone, nil
}

// SyncCameras mirrors the camera catalog into the cameras table, like SyncSensors: no URL, no
// credential.
func SyncCameras(ctx context.Context, conn driver.Conn, cat *streams.CameraCatalog, defaultMode string) error {
	inCatalog := make(map[string]bool, cat.Len())
	for _, c := range cat.Cameras {
		inCatalog[c.ID] = true
	}
	gone, err := goneIDs(ctx, conn, "cameras_current", inCatalog)
	if err != nil {
		return err
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO cameras (id, name, district, commune, purpose, owner_unit, lat, lon, mode, deleted, version)")
	if err != nil {
		return fmt.Errorf("mirror the camera catalog: %w", err)
	}
	version := uint64(time.Now().UnixNano())
	for _, c := range cat.Cameras {
		mode := c.Mode
		if mode == "" {
			mode = defaultMode
		}
		if err := b.Append(c.ID, c.Name, c.District, c.Commune, c.Purpose, c.OwnerUnit, c.Location.Lat, c.Location.Lon, mode, uint8(0), version); err != nil {
			_ = b.Abort()
			return fmt.Errorf("mirror camera %s: %w", c.ID, err)
		}
	}
	for _, id := range gone {
		if err := b.Append(id, "", "", "", "", "", 0.0, 0.0, "", uint8(1), version); err != nil {
			_ = b.Abort()
			return fmt.Errorf("mirror removed camera %s: %w", id, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("mirror the camera catalog: %w", err)
	}
	return nil
}
