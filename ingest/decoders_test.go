package ingest

import (
	"strings"
	"testing"

	"github.com/haidang-ioc/ioc/internal/config"
)

// A topic's format is ingest's to judge: every format it lists builds a decoder, and an
// unknown one is a problem with its path that names the known ones.
func TestFormatsAreIngests(t *testing.T) {
	for name := range decoders {
		topic := config.Topic{Pattern: "x/#", Format: name, QoS: 1}
		if name == "mapped" {
			topic.Mapping = config.Mapping{Sensor: "id", Values: []config.FieldMap{{Field: "v", Metric: "ph"}}}
		}
		if d, err := NewDecoder(topic, nil, nil); err != nil || d == nil {
			t.Errorf("format %s: %v", name, err)
		}
	}
	ic := config.Default().Ingest
	ic.Topics[0].Format = "xml"
	probs := CheckConfig(ic)
	if len(probs) != 1 || probs[0].Path != "ingest.topics[0].format" || !strings.Contains(probs[0].Msg, "frigate, json, mapped, senml, ttn") {
		t.Errorf("problems %v; want the unknown format named with the known ones", probs)
	}
	if _, err := NewDecoder(ic.Topics[0], nil, nil); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("NewDecoder of xml: %v", err)
	}
}
