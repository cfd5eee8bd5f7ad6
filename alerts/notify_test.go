package alerts

import (
	"strings"
	"testing"

	"github.com/haidang-ioc/ioc/internal/config"
)

// A receiver's type is the alerts package's to judge: an unknown one is a problem naming the
// known ones; a known one with its secret unset says which variable.
func TestCheckReceiversKnowsTheTypes(t *testing.T) {
	cfg := config.Default().Alerts
	cfg.Receivers = []config.Receiver{
		{Name: "fax", Type: "fax", Units: []string{"ioc"}},
		{Name: "hook", Type: "webhook", Units: []string{"ioc"}, URL: "http://127.0.0.1:1/", SecretEnv: "HOOK_SECRET"},
		{Name: "ok", Type: "webhook", Units: []string{"ioc"}, URL: "http://127.0.0.1:1/"},
	}
	probs := CheckReceivers(cfg, func(string) string { return "" })
	if len(probs) != 2 || probs[0].Path != "alerts.receivers[0]" || !strings.Contains(probs[0].Msg, "type: want one of email, gateway, webhook") ||
		probs[1].Path != "alerts.receivers[1]" || !strings.Contains(probs[1].Msg, "HOOK_SECRET") {
		t.Errorf("problems %v", probs)
	}
}
