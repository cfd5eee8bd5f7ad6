package ingest

import (
	"fmt"
	"maps"
	"slices"

	"github.com/haidang-ioc/ioc/internal/config"
)

// NewDecoder builds the decoder of one configured topic. profileOf tells the device profile
// the catalog names for a sensor (The Things Stack uplinks).
func NewDecoder(t config.Topic, profiles map[string]config.Profile, profileOf func(string) string) (Decoder, error) {
	build, ok := decoders[t.Format]
	if !ok {
		return nil, fmt.Errorf("no decoder for format %q (known: %s)", t.Format, config.SortedKeys(decoders))
	}
	dec, err := build(t, profiles, profileOf)
	if err != nil || t.DeviceLevel == 0 {
		return dec, err
	}
	if _, events := dec.(EventDecoder); events {
		return nil, fmt.Errorf("device_level: format %s carries camera events, which name cameras, not the device publishing", t.Format)
	}
	return deviceTopic{Decoder: dec, level: t.DeviceLevel}, nil
}

// decoders are the payload formats a topic can name, each with how to build its decoder: the
// one list of formats (config asks ingest whether a topic's format is one of them).
var decoders = map[string]func(t config.Topic, profiles map[string]config.Profile, profileOf func(string) string) (Decoder, error){
	"json": func(config.Topic, map[string]config.Profile, func(string) string) (Decoder, error) {
		return JSONDecoder{}, nil
	},
	"senml": func(t config.Topic, _ map[string]config.Profile, _ func(string) string) (Decoder, error) {
		return SenMLDecoder{SensorLevel: t.SensorLevel}, nil
	},
	"ttn": func(t config.Topic, profiles map[string]config.Profile, profileOf func(string) string) (Decoder, error) {
		return &TTNDecoder{Profiles: profiles, Default: t.Profile, ProfileOf: profileOf}, nil
	},
	"mapped": func(t config.Topic, _ map[string]config.Profile, _ func(string) string) (Decoder, error) {
		return NewMappedDecoder(t.Mapping)
	},
	"frigate": func(config.Topic, map[string]config.Profile, func(string) string) (Decoder, error) {
		return FrigateDecoder{}, nil
	},
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
		if _, ok := decoders[t.Format]; !ok {
			add(fmt.Sprintf("ingest.topics[%d].format", i), "want one of %s, got %q", config.SortedKeys(decoders), t.Format)
		}
		checkFields(fmt.Sprintf("ingest.topics[%d].mapping.values", i), t.Mapping.Values)
	}
	for _, name := range slices.Sorted(maps.Keys(ic.Profiles)) { // problems in a stable order
		checkFields("ingest.profiles."+name+".values", ic.Profiles[name].Values)
	}
	for _, from := range slices.Sorted(maps.Keys(ic.UnitAliases)) {
		to := ic.UnitAliases[from]
		if _, ok := units[to]; !ok {
			add("ingest.unit_aliases."+from, "%q is not a known unit (known: %s)", to, knownUnits())
		}
	}
	return p
}
