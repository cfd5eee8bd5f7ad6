package ingest

import (
	"fmt"

	"github.com/haidang-ioc/ioc/internal/config"
)

// NewDecoder builds the decoder of one configured topic. profileOf tells the device profile
// the catalog names for a sensor (The Things Stack uplinks).
func NewDecoder(t config.Topic, profiles map[string]config.Profile, profileOf func(string) string) (Decoder, error) {
	switch t.Format {
	case "json":
		return JSONDecoder{}, nil
	case "senml":
		return SenMLDecoder{SensorLevel: t.SensorLevel}, nil
	case "ttn":
		return &TTNDecoder{Profiles: profiles, Default: t.Profile, ProfileOf: profileOf}, nil
	case "mapped":
		return NewMappedDecoder(t.Mapping)
	case "frigate":
		return FrigateDecoder{}, nil
	}
	return nil, fmt.Errorf("no decoder for format %q", t.Format)
}

// CheckConfig reports the problems of the ingest settings that only ingest can judge: metrics
// and units named by mappings, profiles and unit aliases. `ioc check` prints them with the rest.
func CheckConfig(ic config.Ingest) config.Problems {
	var p config.Problems
	add := func(path, format string, args ...any) {
		p = append(p, config.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	checkFields := func(path string, maps []config.FieldMap) {
		for i, f := range maps {
			def, ok := Metrics[f.Metric]
			if !ok {
				add(fmt.Sprintf("%s[%d].metric", path, i), "unknown metric %q (known: %s)", f.Metric, config.SortedKeys(Metrics))
				continue
			}
			if f.Unit == "" || def.Text {
				continue
			}
			unit := f.Unit
			if alias, ok := ic.UnitAliases[unit]; ok {
				unit = alias
			}
			if _, err := convert(1, unit, def.Unit); err != nil {
				add(fmt.Sprintf("%s[%d].unit", path, i), "%v (metric %s is in %s)", err, f.Metric, def.Unit)
			}
		}
	}
	for i, t := range ic.Topics {
		checkFields(fmt.Sprintf("ingest.topics[%d].mapping.values", i), t.Mapping.Values)
	}
	for name, prof := range ic.Profiles {
		checkFields("ingest.profiles."+name+".values", prof.Values)
	}
	for from, to := range ic.UnitAliases {
		if _, ok := units[to]; !ok {
			add("ingest.unit_aliases."+from, "%q is not a known unit (known: %s)", to, knownUnits())
		}
	}
	return p
}
