package analytics

import (
	"context"
	"fmt"
	"time"
)

// ValueAt is one stored value of a sensor's metric.
type ValueAt struct {
	T     time.Time
	Value float64
}

// MaxValues bounds the values Values answers for each sensor.
const MaxValues = 1000

// Values lists the stored values of metric for each of sensors in [from, to), newest first, at
// most lastN (0: MaxValues, and never more) for each sensor: the NGSI-LD temporal API's
// values.
func (q *Querier) Values(ctx context.Context, sensors []string, metric string, from, to time.Time, lastN int) (map[string][]ValueAt, error) {
	ctx, cancel := context.WithTimeout(ctx, q.lim.Timeout)
	defer cancel()
	if _, err := q.checkRangeMetric(from, to, metric); err != nil {
		return nil, err
	}
	if err := q.checkSensors(ctx, sensors); err != nil {
		return nil, err
	}
	n := MaxValues
	if lastN > 0 && lastN < n {
		n = lastN
	}
	rows, err := q.conn.Query(q.ctx(ctx), `SELECT toString(sensor_id), ts, value FROM readings FINAL
WHERE sensor_id IN ? AND metric = ? AND ts >= ? AND ts < ? AND text = ''
ORDER BY sensor_id, ts DESC LIMIT ? BY sensor_id`, StringSet(sensors), metric, from.UTC().Truncate(time.Second), ceilSecond(to), n)
	if err != nil {
		return nil, fmt.Errorf("values of %s: %w", metric, err)
	}
	defer rows.Close()
	out := map[string][]ValueAt{}
	for rows.Next() {
		var sensor string
		var v ValueAt
		if err := rows.Scan(&sensor, &v.T, &v.Value); err != nil {
			return nil, fmt.Errorf("values of %s: %w", metric, err)
		}
		out[sensor] = append(out[sensor], v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("values of %s: %w", metric, err)
	}
	return out, nil
}
