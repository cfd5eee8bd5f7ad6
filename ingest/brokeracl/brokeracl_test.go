package brokeracl

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
)

func catalog(t *testing.T, ids ...string) *ingest.Catalog {
	t.Helper()
	var b strings.Builder
	b.WriteString("sensors:\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "  - {id: %s, name: Trạm %s, kind: rain_gauge, metrics: [{name: rainfall}], location: {lat: 22.5, lon: 103.9}, district: TP Lào Cai, owner_unit: flood_control}\n", id, id)
	}
	cat, err := ingest.ParseCatalog([]byte(b.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// A device may publish only on the topics that name it; ioc subscribes and publishes only on
// its own topics; gateways only publish on the topics that name no device.
func TestPlan(t *testing.T) {
	ic := config.Default().Ingest
	ic.SharedGroup = "ioc"
	p := NewPlan(catalog(t, "gauge-a"), ic, "", "ioc", "", []string{"nvr"})
	roles := map[string][]ACL{}
	for _, r := range p.Roles {
		roles[r.Name] = r.ACLs
	}
	want := []ACL{{PublishSend, "province/+/+/gauge-a", true}, {PublishSend, "senml/gauge-a/#", true}, {PublishSend, "v3/+/devices/gauge-a/up", true}}
	if got := roles[DeviceRole("gauge-a")]; !slices.Equal(got, want) {
		t.Errorf("device role: %v, want %v", got, want)
	}
	for _, acl := range roles[ingestRole] {
		if acl.Type != SubscribePattern && acl.Topic != "ioc-clients/#" {
			t.Errorf("ioc's role allows %v: want subscriptions, and publishing its client ids' claims only", acl)
		}
	}
	if !slices.Contains(roles[ingestRole], ACL{SubscribePattern, "$share/ioc/province/+/+/+", true}) {
		t.Errorf("ioc's role %v: want the shared subscription's filter", roles[ingestRole])
	}
	if got := roles[gatewayRole]; !slices.Equal(got, []ACL{{PublishSend, "frigate/events", true}}) {
		t.Errorf("gateway role: %v, want frigate/events only", got)
	}
	// With the live relay, ioc publishes and subscribes under its root, and nowhere else.
	for _, r := range NewPlan(catalog(t, "gauge-a"), ic, "ioc-live", "ioc", "", nil).Roles {
		if r.Name != ingestRole {
			continue
		}
		var published []string
		for _, acl := range r.ACLs {
			if acl.Type == PublishSend {
				published = append(published, acl.Topic)
			}
		}
		if !slices.Equal(published, []string{"ioc-clients/#", "ioc-live/#"}) || !slices.Contains(r.ACLs, ACL{SubscribePattern, "ioc-live/#", true}) {
			t.Errorf("ioc's role with the relay: %v, want publish and subscribe on ioc-clients/# and ioc-live/# only", r.ACLs)
		}
	}
	accounts := map[string]string{}
	for _, a := range p.Accounts {
		accounts[a.Username] = a.Role
	}
	if len(accounts) != 3 || accounts["gauge-a"] != DeviceRole("gauge-a") || accounts["ioc"] != ingestRole || accounts["nvr"] != gatewayRole {
		t.Errorf("accounts %v", accounts)
	}
}

// connect connects to the broker as username with its password and client certificate.
func connect(mc config.MQTT, username, password string) (mqtt.Client, error) {
	mc.Username, mc.Password = username, config.Secret(password)
	opts, _, err := ingest.ClientOptions(mc, "t-"+username+"-"+fmt.Sprint(time.Now().UnixNano()))
	if err != nil {
		return nil, err
	}
	c := mqtt.NewClient(opts.SetConnectTimeout(5 * time.Second).SetAutoReconnect(false))
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, fmt.Errorf("connect: no answer")
	}
	return c, tok.Error()
}

// The sync makes each sensor an account of its own that may publish only its own readings;
// anonymous clients, devices publishing as another and ioc publishing are refused; a sensor
// gone from the catalog loses its account; a rotated password replaces the old one.
func TestSyncAgainstMosquitto(t *testing.T) {
	b := testenv.StartSecureBroker(t)
	now := time.Now()
	mc := b.Client(t, "ioc", now.Add(-time.Hour), now.Add(time.Hour))
	ctx := context.Background()
	admin, err := Dial(ctx, mc, b.AdminUsername, b.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ic := config.Default().Ingest
	rep, err := admin.Sync(ctx, NewPlan(catalog(t, "gauge-a", "gauge-b"), ic, "", "ioc", "", nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 3 || len(rep.Passwords) != 3 {
		t.Fatalf("first sync: %+v, want 3 accounts created with their passwords", rep)
	}
	pw := rep.Passwords
	again, err := admin.Sync(ctx, NewPlan(catalog(t, "gauge-a", "gauge-b"), ic, "", "ioc", "", nil), nil)
	if err != nil || again.Created+again.Updated+again.Deleted != 0 || again.Unchanged != 3 {
		t.Fatalf("second sync: %+v, %v: want nothing to change", again, err)
	}

	// ioc reads everything it subscribes to.
	iocClient, err := connect(mc, "ioc", pw["ioc"])
	if err != nil {
		t.Fatalf("ioc's account: %v", err)
	}
	defer iocClient.Disconnect(100)
	var mu sync.Mutex
	var got []string
	sub := iocClient.Subscribe("province/+/+/+", 1, func(_ mqtt.Client, m mqtt.Message) {
		mu.Lock()
		got = append(got, m.Topic()+" "+string(m.Payload()))
		mu.Unlock()
	})
	if !sub.WaitTimeout(5*time.Second) || sub.Error() != nil || sub.(*mqtt.SubscribeToken).Result()["province/+/+/+"] >= 0x80 {
		t.Fatalf("ioc may not subscribe to province/+/+/+: %v %v", sub.Error(), sub.(*mqtt.SubscribeToken).Result())
	}
	everything := iocClient.Subscribe("#", 1, nil)
	if everything.WaitTimeout(5 * time.Second); everything.(*mqtt.SubscribeToken).Result()["#"] < 0x80 {
		t.Errorf("ioc may subscribe to #: want only the topics it reads")
	}

	// Device A publishes its own reading, then one on B's topic and one as ioc; MQTT 5's
	// answer tells the device it was refused (mosquitto_pub prints it).
	devA := b.Client(t, "gauge-a", now.Add(-time.Hour), now.Add(time.Hour))
	pub := func(user, pass, topic, msg string) string {
		out, _ := exec.Command("mosquitto_pub", "-V", "mqttv5", "-h", "127.0.0.1", "-p", strings.TrimPrefix(b.URL, "ssl://127.0.0.1:"),
			"--cafile", devA.TLS.CAFile, "--cert", devA.TLS.CertFile, "--key", devA.TLS.KeyFile,
			"-u", user, "-P", pass, "-q", "1", "-t", topic, "-m", msg).CombinedOutput()
		return string(out)
	}
	if out := pub("gauge-a", pw["gauge-a"], "province/lao-cai/river_gauge/gauge-a", "own"); strings.TrimSpace(out) != "" {
		t.Errorf("gauge-a on its own topic: %s", out)
	}
	if out := pub("gauge-a", pw["gauge-a"], "province/lao-cai/river_gauge/gauge-b", "as-b"); !strings.Contains(out, "Not authorized") {
		t.Errorf("gauge-a on gauge-b's topic: %q, want the broker's refusal", out)
	}
	if out := pub("ioc", pw["ioc"], "province/lao-cai/river_gauge/gauge-a", "as-ioc"); !strings.Contains(out, "Not authorized") {
		t.Errorf("ioc publishing: %q, want the broker's refusal", out)
	}
	if out := pub("", "", "province/lao-cai/river_gauge/gauge-a", "anon"); !strings.Contains(strings.ToLower(out), "not authori") {
		t.Errorf("anonymous: %q, want the connection refused", out)
	}
	if out := pub("gauge-a", "wrong", "province/lao-cai/river_gauge/gauge-a", "bad-pw"); !strings.Contains(strings.ToLower(out), "bad user name or password") && !strings.Contains(strings.ToLower(out), "not authori") {
		t.Errorf("wrong password: %q, want the connection refused", out)
	}
	testenv.WaitFor(t, "gauge-a's own reading at ioc", 5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1
	})
	time.Sleep(300 * time.Millisecond) // the refused ones would have come by now
	mu.Lock()
	if len(got) != 1 || got[0] != "province/lao-cai/river_gauge/gauge-a own" {
		t.Errorf("ioc received %q: want gauge-a's own reading only", got)
	}
	mu.Unlock()
	if log, _ := os.ReadFile(b.Log); !strings.Contains(string(log), "not authorised") {
		t.Errorf("the broker log does not show the anonymous refusal:\n%s", log)
	}

	// gauge-b leaves the catalog; gauge-a's password is rotated.
	rep, err = admin.Sync(ctx, NewPlan(catalog(t, "gauge-a"), ic, "", "ioc", "", nil), []string{"gauge-a"})
	if err != nil || rep.Deleted != 1 || rep.Updated != 1 || len(rep.Passwords) != 1 {
		t.Fatalf("sync after removal and rotation: %+v, %v", rep, err)
	}
	if _, err := connect(devA, "gauge-b", pw["gauge-b"]); err == nil {
		t.Error("gauge-b connects after leaving the catalog")
	}
	if _, err := connect(devA, "gauge-a", pw["gauge-a"]); err == nil {
		t.Error("gauge-a's old password still works after rotation")
	}
	c, err := connect(devA, "gauge-a", rep.Passwords["gauge-a"])
	if err != nil {
		t.Fatalf("gauge-a's new password: %v", err)
	}
	c.Disconnect(100)
	if _, err := admin.Sync(ctx, NewPlan(catalog(t, "gauge-a"), ic, "", "ioc", "", nil), []string{"nobody"}); err == nil || !strings.Contains(err.Error(), "nobody") {
		t.Errorf("rotating an unknown account: %v", err)
	}

	// An expired client certificate is refused before dialling, naming the file; a client
	// trusting another CA refuses the broker, naming its CA file.
	expired := b.Client(t, "old-device", now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	if _, err := connect(expired, "gauge-a", rep.Passwords["gauge-a"]); err == nil || !strings.Contains(err.Error(), "mqtt.tls: cert_file "+expired.TLS.CertFile+`: certificate "old-device" expired at`) {
		t.Errorf("an expired client certificate: %v", err)
	}
	other := testenv.StartSecureBroker(t) // another CA
	wrongCA := devA
	wrongCA.TLS.CAFile = other.Dir + "/ca.crt"
	if _, err := connect(wrongCA, "gauge-a", rep.Passwords["gauge-a"]); err == nil || !strings.Contains(err.Error(), "is not signed by "+wrongCA.TLS.CAFile) {
		t.Errorf("a broker of another CA: %v", err)
	}
	// A client certificate of another CA is refused by the broker.
	foreign := other.Client(t, "foreign", now.Add(-time.Hour), now.Add(time.Hour))
	foreign.Broker, foreign.TLS.CAFile = b.URL, devA.TLS.CAFile
	if c, err := connect(foreign, "gauge-a", rep.Passwords["gauge-a"]); err == nil {
		c.Disconnect(100)
		t.Error("the broker took a client certificate of another CA")
	}
}
