package ingest

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Normalizer is the Check that holds readings against the sensor catalog and the known
// metrics: the sensor must be in the catalog and list the metric (link-quality metrics
// excepted), the value is converted to the metric's canonical unit, and it must lie in the
// metric's physical range (or the narrower one the catalog gives the sensor). The catalog can
// be swapped while readings flow (SIGHUP reload).
type Normalizer struct {
	catalog       atomic.Pointer[Catalog]
	units         *UnitConverter
	acceptUnknown bool
}

// NewNormalizer builds a normalizer on catalog. With acceptUnknown, readings of sensors
// missing from the catalog are kept with quality unknown_sensor instead of rejected.
func NewNormalizer(catalog *Catalog, units *UnitConverter, acceptUnknown bool) *Normalizer {
	n := &Normalizer{units: units, acceptUnknown: acceptUnknown}
	n.catalog.Store(catalog)
	return n
}

// SetCatalog replaces the catalog; readings checked from now on use the new one.
func (n *Normalizer) SetCatalog(c *Catalog) { n.catalog.Store(c) }

// Catalog returns the catalog in use.
func (n *Normalizer) Catalog() *Catalog { return n.catalog.Load() }

// ProfileOf is the LoRaWAN device profile of sensor in the catalog in use ("" when it has none
// or is not in the catalog), for the decoders.
func (n *Normalizer) ProfileOf(sensor string) string {
	if s := n.Catalog().Lookup(sensor); s != nil {
		return s.Profile
	}
	return ""
}

// Check implements Check.
func (n *Normalizer) Check(r *Reading, _ time.Time) *Rejection {
	def, ok := Metrics[r.Metric]
	if !ok {
		return &Rejection{Reason: ReasonUnknownMetric, Detail: fmt.Sprintf("metric %q is not a known metric", r.Metric)}
	}
	var spec *Metric
	if s := n.catalog.Load().Lookup(r.Sensor); s == nil {
		if !n.acceptUnknown {
			return &Rejection{Reason: ReasonUnknownSensor, Detail: "not in the sensor catalog"}
		}
		r.Quality = QualityUnknownSensor
	} else if spec = s.metric(r.Metric); spec == nil && !def.Link {
		return &Rejection{Reason: ReasonUnknownMetric, Detail: fmt.Sprintf("the catalog lists no metric %s for this %s", r.Metric, s.Kind)}
	}
	if def.Text != (r.Text != "") {
		if def.Text {
			return &Rejection{Reason: ReasonWrongType, Detail: "a text value is expected"}
		}
		return &Rejection{Reason: ReasonWrongType, Detail: fmt.Sprintf("a number is expected, got text %q", clip([]byte(r.Text)))}
	}
	if def.Text {
		r.Unit = def.Unit
		return nil
	}
	from := r.Unit
	if from == "" && spec != nil {
		from = spec.Unit
	}
	v, rej := n.units.Canonical(r.Value, from, def)
	if rej != nil {
		return rej
	}
	lo, hi := def.Min, def.Max
	if spec != nil && spec.Min != nil {
		lo, hi = *spec.Min, *spec.Max
	}
	if v < lo || v > hi {
		return &Rejection{Reason: ReasonOutOfRange, Detail: fmt.Sprintf("%g %s is outside the physical range %g to %g %s", v, def.Unit, lo, hi, def.Unit)}
	}
	r.Value, r.Unit = v, def.Unit
	return nil
}
