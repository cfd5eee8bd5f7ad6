package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ioc.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The example config documents the defaults: loading it must give exactly Default().
func TestExampleConfigIsTheDefaults(t *testing.T) {
	cfg, err := Load("../../deploy/config/ioc.example.yaml", nil)
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	// a template: it names no sensor catalog, which a province must (only the simulator brings one)
	var probs Problems
	if err := cfg.Validate(); !errors.As(err, &probs) || len(probs) != 1 || probs[0].Path != "ingest.catalog" {
		t.Fatalf("example config: %v; want exactly the missing ingest.catalog", err)
	}
	if want := Default(); !reflect.DeepEqual(cfg, want) {
		t.Fatalf("example config differs from Default():\n got %+v\nwant %+v", cfg, want)
	}
}

// Production never falls back to the demo's catalog: with the ingest role, no catalog and the
// simulator off, validation names ingest.catalog.
func TestIngestNeedsACatalogWithoutTheSimulator(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Config)
		want bool // a problem at ingest.catalog
	}{
		{"defaults", func(*Config) {}, true},
		{"a catalog file", func(c *Config) { c.Ingest.Catalog = "/etc/ioc/sensors.yaml" }, false},
		{"the simulator", func(c *Config) { c.Simulator.Enabled = true }, false},
		{"no ingest role", func(c *Config) { c.Roles = []string{RoleDashboard} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.set(&c)
			var probs Problems
			_ = errors.As(c.Validate(), &probs)
			got := slices.ContainsFunc(probs, func(p Problem) bool { return p.Path == "ingest.catalog" && strings.Contains(p.Msg, "missing") })
			if got != tc.want {
				t.Errorf("problems %v; want one at ingest.catalog: %v", probs, tc.want)
			}
		})
	}
}

func TestLoadNamesEachProblemByPath(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // each must appear in the error
	}{
		{"unknown top-level key", "clickhous:\n  addr: x:1\n", []string{"clickhous: unknown key (line 1)"}},
		{"unknown nested key", "ingest:\n  topics:\n    - pattern: a/#\n      formt: json\n", []string{"ingest.topics[0].formt: unknown key (line 4)"}},
		{"wrong scalar type", "writer:\n  batch_size: lots\n", []string{`writer.batch_size: want a whole number, got "lots"`}},
		{"bad duration", "writer:\n  flush_interval: soon\n", []string{`writer.flush_interval: want a duration`}},
		{"mapping where a list goes", "roles:\n  a: b\n", []string{"roles: want a list"}},
		{"list where a mapping goes", "log: [a]\n", []string{"log: want a mapping"}},
		{"several at once", "nope: 1\nhttp:\n  lisen: x\n", []string{"nope: unknown key", "http.lisen: unknown key"}},
		{"broken YAML", "log: [\n", []string{"(file):"}},
		{"two documents", "log: {}\n---\nlog: {}\n", []string{"more than one YAML document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeFile(t, tt.yaml), nil)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadKeepsDefaultsForAbsentKeys(t *testing.T) {
	cfg, err := Load(writeFile(t, "clickhouse:\n  addr: ch.internal:9440\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClickHouse.Addr != "ch.internal:9440" {
		t.Errorf("addr = %q", cfg.ClickHouse.Addr)
	}
	if cfg.ClickHouse.Database != "ioc" || cfg.MQTT.Broker != "tcp://127.0.0.1:1883" {
		t.Errorf("defaults lost: %+v", cfg)
	}
	empty, err := Load(writeFile(t, ""), nil)
	if err != nil || !reflect.DeepEqual(empty, Default()) {
		t.Errorf("an empty file must give the defaults: %v", err)
	}
}

func TestTopicEntriesTakeDefaults(t *testing.T) {
	cfg, err := Load(writeFile(t, "ingest:\n  topics:\n    - pattern: a/#\n    - pattern: b/+\n      qos: 0\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Topic{{Pattern: "a/#", Format: "json", QoS: 1}, {Pattern: "b/+", Format: "json", QoS: 0}}
	if !reflect.DeepEqual(cfg.Ingest.Topics, want) {
		t.Fatalf("topics = %+v, want %+v", cfg.Ingest.Topics, want)
	}
}

func TestEnvOverrides(t *testing.T) {
	env := []string{
		"IOC_CLICKHOUSE_ADDR=10.0.0.5:9000",
		"IOC_WRITER_BATCH_SIZE=500",
		"IOC_WRITER_FLUSH_INTERVAL=1s",
		"IOC_ROLES=ingest, dashboard",
		"IOC_SIMULATOR_ENABLED=true",
		"IOC_SIMULATOR_BAD_SHARE=0.5",
		"IOC_MQTT_PASSWORD=hunter2",
		"IOC_CONFIG=/etc/ioc.yaml", // reserved: the config path, not a setting
		"IOC_TEST_CLICKHOUSE_ADDR=x",
		"IOC_CLUSTER_CLICKHOUSE=ioc_shards", // deploy/local/cluster.sh's own
		"PATH=/bin",
	}
	cfg, err := Load(writeFile(t, "writer:\n  batch_size: 7\n"), env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClickHouse.Addr != "10.0.0.5:9000" || cfg.Writer.BatchSize != 500 ||
		cfg.Writer.FlushInterval != time.Second || !cfg.Simulator.Enabled || cfg.Simulator.BadShare != 0.5 {
		t.Errorf("overrides not applied (env wins over the file): %+v", cfg)
	}
	if !reflect.DeepEqual(cfg.Roles, []string{"ingest", "dashboard"}) {
		t.Errorf("roles = %q", cfg.Roles)
	}
	if cfg.MQTT.Password.Value() != "hunter2" {
		t.Errorf("password not set")
	}
}

func TestEnvProblems(t *testing.T) {
	_, err := Load("", []string{"IOC_CLICKHOUS_ADDR=x", "IOC_WRITER_BATCH_SIZE=many", "IOC_MQTT_KEEPALIVE=10"})
	if err == nil {
		t.Fatal("want errors")
	}
	for _, w := range []string{
		"IOC_CLICKHOUS_ADDR: unknown setting",
		`IOC_WRITER_BATCH_SIZE: want a whole number, got "many"`,
		`IOC_MQTT_KEEPALIVE: want a duration`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func TestEnvNamesCoverScalarSettings(t *testing.T) {
	names := strings.Join(EnvNames(), " ")
	for _, w := range []string{"IOC_ROLES", "IOC_CLICKHOUSE_ADDR", "IOC_MQTT_BROKER", "IOC_HTTP_LISTEN", "IOC_INGEST_MAX_AGE"} {
		if !strings.Contains(names, w) {
			t.Errorf("EnvNames lacks %s", w)
		}
	}
	if strings.Contains(names, "IOC_INGEST_TOPICS") {
		t.Error("lists of mappings are file-only")
	}
}

func TestAdvertisedURL(t *testing.T) {
	for _, c := range []struct {
		h    HTTP
		want string
	}{
		{HTTP{Listen: ":8080"}, "http://node-a:8080"},
		{HTTP{Listen: "0.0.0.0:8443", TLS: TLS{CertFile: "c"}}, "https://node-a:8443"},
		{HTTP{Listen: "127.0.0.1:8080"}, "http://127.0.0.1:8080"},
		{HTTP{Listen: "[::1]:8080"}, "http://[::1]:8080"},
		{HTTP{Listen: ":8080", AdvertiseURL: "http://ioc-0.ioc:8080/"}, "http://ioc-0.ioc:8080"},
	} {
		if got := c.h.Advertised("node-a"); got != c.want {
			t.Errorf("%+v: %q, want %q", c.h, got, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"empty pattern", func(c *Config) {
			c.Ingest.Topics = []Topic{{Pattern: "a/#", Format: "json", QoS: 1}, {Format: "json", QoS: 1}}
		}, "ingest.topics[1].pattern: empty"},
		{"# not last", func(c *Config) { c.Ingest.Topics[0].Pattern = "a/#/b" }, "ingest.topics[0].pattern: \"a/#/b\": # must be the last level"},
		{"+ inside a level", func(c *Config) { c.Ingest.Topics[0].Pattern = "a/b+/c" }, "+ must fill a whole level"},
		{"shared subscription filter is fine", func(c *Config) { c.Ingest.Topics[0].Pattern = "$share/g/province/#" }, ""},
		{"qos", func(c *Config) { c.Ingest.Topics[0].QoS = 3 }, "ingest.topics[0].qos: want 0, 1 or 2"},
		{"no topics with ingest", func(c *Config) { c.Ingest.Topics = nil }, "ingest.topics: empty"},
		{"no topics without ingest", func(c *Config) { c.Ingest.Topics = nil; c.Roles = []string{"dashboard"} }, ""},
		{"device level not a wildcard", func(c *Config) { c.Ingest.Topics[0].DeviceLevel = 1 }, `ingest.topics[0].device_level: level 1 of "province/+/+/+" is "province"`},
		{"device level past the pattern", func(c *Config) { c.Ingest.Topics[0].DeviceLevel = 5 }, "ingest.topics[0].device_level: want 0 (the topic names no device) or a level of the pattern, 1 to 4, got 5"},
		{"mqtt tls on a plain broker", func(c *Config) { c.MQTT.TLS.ServerName = "broker" }, "mqtt.tls: set while mqtt.broker is tcp://"},
		{"mqtt cert without key", func(c *Config) { c.MQTT.Broker = "ssl://b:8883"; c.MQTT.TLS.CertFile = "/etc/hostname" }, "mqtt.tls: cert_file and key_file go together"},
		{"mqtt missing ca file", func(c *Config) { c.MQTT.Broker = "ssl://b:8883"; c.MQTT.TLS.CAFile = "/nonexistent/ca.crt" }, "mqtt.tls.ca_file: stat /nonexistent/ca.crt"},
		{"clickhouse tls without secure", func(c *Config) { c.ClickHouse.TLS.CAFile = "/etc/hostname" }, "clickhouse.tls: set while clickhouse.secure is off"},
		{"redirect without tls", func(c *Config) { c.HTTP.RedirectListen = ":80" }, "http.redirect_listen: redirects to HTTPS, which needs http.tls.cert_file"},
		{"broker admin without password", func(c *Config) { c.MQTT.Access.AdminUsername = "admin" }, "mqtt.access.admin_password_env"},
		{"sync without admin", func(c *Config) { c.MQTT.Access.SyncOnReload = true }, "mqtt.access.sync_on_reload: needs mqtt.access.admin_username"},
		{"unknown role", func(c *Config) { c.Roles = []string{"ingest", "cooking"} }, `roles[1]: unknown role "cooking"`},
		{"no roles", func(c *Config) { c.Roles = nil }, "roles: empty"},
		{"clickhouse addr", func(c *Config) { c.ClickHouse.Addr = "localhost" }, "clickhouse.addr: want host:port"},
		{"clickhouse database", func(c *Config) { c.ClickHouse.Database = "ioc; DROP" }, "clickhouse.database"},
		{"clickhouse cluster", func(c *Config) { c.ClickHouse.Cluster = "ioc-main" }, "clickhouse.cluster: want a cluster name"},
		{"alerts in a shared group", func(c *Config) { c.Ingest.SharedGroup = "ioc" }, "ingest.shared_group: set with the alerts role"},
		{"lease server", func(c *Config) { c.Alerts.Lease.ZooKeeper = []string{"zk1"} }, "alerts.lease.zookeeper[0]: want host:port"},
		{"clip download unit", func(c *Config) {
			c.Streams.MediaMTX.API = "http://127.0.0.1:9997"
			c.Streams.MediaMTX.ClipDownloadUnits = []string{"police", "bakers"}
		}, `streams.mediamtx.clip_download_units[1]: unknown unit "bakers"`},
		{"compression", func(c *Config) { c.ClickHouse.Compression = "gzip" }, "clickhouse.compression"},
		{"broker scheme", func(c *Config) { c.MQTT.Broker = "http://x:1883" }, "mqtt.broker: want a tcp://"},
		{"broker without port", func(c *Config) { c.MQTT.Broker = "tcp://broker" }, "mqtt.broker: want scheme://host:port"},
		{"advertise url", func(c *Config) { c.HTTP.AdvertiseURL = "http://ioc-alerts-0.ioc:8080" }, ""},
		{"advertise url with a path", func(c *Config) { c.HTTP.AdvertiseURL = "ftp://x/y" }, "http.advertise_url: want http(s)://host:port"},
		{"forward ca missing", func(c *Config) { c.HTTP.ForwardCAFile = "/nonexistent/ca.crt" }, "http.forward_ca_file: stat /nonexistent/ca.crt"},
		{"live relay", func(c *Config) { c.HTTP.Live.Relay = "ioc-live" }, ""},
		{"live relay wildcard", func(c *Config) { c.HTTP.Live.Relay = "ioc/#" }, "http.live.relay: want a topic root without wildcards"},
		{"live relay flush", func(c *Config) { c.HTTP.Live.Relay, c.HTTP.Live.RelayFlush = "ioc-live", time.Hour }, "http.live.relay_flush: want 10ms to 10s"},
		{"two tile sources", func(c *Config) {
			c.HTTP.TileURL, c.HTTP.TilesFile = "http://tiles.local/{z}/{x}/{y}.png", "/var/lib/ioc/t.pmtiles"
		}, "http.tiles_file: set while http.tile_url is set too"},
		{"broker cluster", func(c *Config) { c.MQTT.Broker = "tcp://a:1883, tcp://b:1883,tcp://c:1883" }, ""},
		{"broker cluster mixing tls", func(c *Config) { c.MQTT.Broker = "ssl://a:8883,tcp://b:1883" }, "mqtt.broker: mixes encrypted and plain nodes"},
		{"broker cluster node without port", func(c *Config) { c.MQTT.Broker = "tcp://a:1883,tcp://b" }, "mqtt.broker: want scheme://host:port"},
		{"credentials in broker URL", func(c *Config) { c.MQTT.Broker = "tcp://u:secret@x:1883" }, "mqtt.broker: holds credentials"},
		{"client id", func(c *Config) { c.MQTT.ClientID = "" }, "mqtt.client_id: empty"},
		{"keepalive", func(c *Config) { c.MQTT.KeepAlive = time.Millisecond }, "mqtt.keepalive"},
		{"batch size", func(c *Config) { c.Writer.BatchSize = 0 }, "writer.batch_size"},
		{"flush interval", func(c *Config) { c.Writer.FlushInterval = 0 }, "writer.flush_interval: want a positive duration"},
		{"http listen", func(c *Config) { c.HTTP.Listen = "8080" }, "http.listen"},
		{"log level", func(c *Config) { c.Log.Level = "loud" }, "log.level"},
		{"bad share", func(c *Config) { c.Simulator.BadShare = 2 }, "simulator.bad_share"},
		{"simulator topic prefix with a wildcard", func(c *Config) { c.Simulator.TopicPrefix = "sim/+" }, "simulator.topic_prefix"},
		{"simulator topic prefix ending in /", func(c *Config) { c.Simulator.TopicPrefix = "sim/" }, "simulator.topic_prefix"},
		{"payload limit", func(c *Config) { c.Ingest.MaxPayloadBytes = 0 }, "ingest.max_payload_bytes"},
		{"shared group", func(c *Config) { c.Ingest.SharedGroup = "a/b" }, "ingest.shared_group"},
		{"sensor level past the pattern", func(c *Config) { c.Ingest.Topics[1].SensorLevel = 3 }, "ingest.topics[1].sensor_level: want 0 (unused) or a level of the pattern, 1 to 2"},
		{"unknown topic profile", func(c *Config) { c.Ingest.Topics[2].Profile = "dragino" }, `ingest.topics[2].profile: no profile "dragino"`},
		{"mapping on a json topic", func(c *Config) { c.Ingest.Topics[0].Mapping.Sensor = "id" }, "ingest.topics[0].mapping: only a topic of format mapped"},
		{"mapped topic", func(c *Config) {
			c.Ingest.Topics = append(c.Ingest.Topics, Topic{Pattern: "vendor/+", Format: "mapped", QoS: 1, Mapping: Mapping{
				Sensor: "topic:2", Time: "t", TimeFormat: "2006-01-02 15:04:05", TimeZone: "Asia/Ho_Chi_Minh",
				Values: []FieldMap{{Field: "lvl", Metric: "water_level", Unit: "cm"}}}})
		}, ""},
		{"mapped topic without sensor or values", func(c *Config) {
			c.Ingest.Topics = append(c.Ingest.Topics, Topic{Pattern: "vendor/+", Format: "mapped", QoS: 1})
		}, "ingest.topics[4].mapping.sensor: empty"},
		{"mapped topic level", func(c *Config) {
			c.Ingest.Topics = append(c.Ingest.Topics, Topic{Pattern: "vendor/+", Format: "mapped", QoS: 1,
				Mapping: Mapping{Sensor: "topic:x", Values: []FieldMap{{Field: "a", Metric: "ph"}}}})
		}, "ingest.topics[4].mapping.sensor: want topic:N"},
		{"mapped time format", func(c *Config) {
			c.Ingest.Topics = append(c.Ingest.Topics, Topic{Pattern: "vendor/+", Format: "mapped", QoS: 1,
				Mapping: Mapping{Sensor: "id", TimeFormat: "dd/mm/yyyy", Values: []FieldMap{{Field: "a", Metric: "ph"}}}})
		}, "ingest.topics[4].mapping.time_format"},
		{"profile without values", func(c *Config) { c.Ingest.Profiles["empty"] = Profile{} }, "ingest.profiles.empty.values: empty"},
		{"spool fsync", func(c *Config) { c.Writer.Spool.Fsync = "sometimes" }, "writer.spool.fsync: want one of always, interval, never"},
		{"spool too small", func(c *Config) { c.Writer.Spool.MaxBytes = 1 << 20 }, "writer.spool.max_bytes: want at least two segments"},
		{"spool off", func(c *Config) { c.Writer.Spool.Dir = "" }, ""},
		{"unit key of an unknown unit", func(c *Config) {
			c.HTTP.Auth.APIKeys = []APIKey{{ID: "pctt", Name: "PCTT", Role: RoleUnit, Units: []string{"flod_control"},
				Hash: "sha256:" + strings.Repeat("a", 64)}}
		}, `http.auth.api_keys[0].units[0]: unknown unit "flod_control" (known: environment, fire_police, flood_control`},
		{"partner key of an unknown type", func(c *Config) {
			c.HTTP.Auth.APIKeys = []APIKey{{ID: "kttv", Name: "KTTV", Role: RolePartner, Types: []string{"WaterObserved", "Spaceship"},
				Hash: "sha256:" + strings.Repeat("a", 64)}}
		}, `http.auth.api_keys[0].types[1]: unknown entity type "Spaceship"`},
		{"a scope on another role's key", func(c *Config) {
			c.HTTP.Auth.APIKeys = []APIKey{{ID: "ana", Name: "Phân tích", Role: RoleAnalyst, Districts: []string{"Sa Pa"},
				Hash: "sha256:" + strings.Repeat("a", 64)}}
		}, "http.auth.api_keys[0].types: only a partner key is scoped"},
		{"spool forced without a spool", func(c *Config) { c.Writer.Spool.Dir = ""; c.Writer.Spool.Force = true }, "writer.spool.force: needs a spool"},
		{"cap sender with a space", func(c *Config) { c.Alerts.CAP.Sender = "IOC Lào Cai" }, "alerts.cap.sender: want a name without spaces"},
		{"cap status", func(c *Config) { c.Alerts.CAP.Status = "Draft" }, "alerts.cap.status: want one of Actual, Exercise, Test"},
		{"cap without vi", func(c *Config) { c.Alerts.CAP.Languages = []string{"en"} }, "alerts.cap.languages: must list vi"},
		{"cap language", func(c *Config) { c.Alerts.CAP.Languages = []string{"vi", "fr"} }, "alerts.cap.languages[1]: want one of vi, en"},
		{"cap web", func(c *Config) { c.Alerts.CAP.Web = "ioc.laocai.gov.vn" }, "alerts.cap.web: want an http(s) URL"},
		{"cap circle", func(c *Config) { c.Alerts.CAP.CircleKM = 0 }, "alerts.cap.circle_km"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			cfg.Ingest.Catalog = "/etc/ioc/sensors.yaml" // a province names its catalog
			tt.change(&cfg)
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("want %q, got valid", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := Default()
	cfg.Ingest.Catalog = "/etc/ioc/sensors.yaml"
	cfg.ClickHouse.Addr = ""
	cfg.MQTT.Broker = ""
	cfg.Writer.BatchSize = -1
	probs, ok := cfg.Validate().(Problems)
	if !ok || len(probs) != 3 {
		t.Fatalf("want 3 problems, got %v", probs)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("hunter2")
	for _, out := range []string{s.String(), s.LogValue().String()} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret leaked: %q", out)
		}
	}
	txt, _ := s.MarshalText()
	if strings.Contains(string(txt), "hunter2") {
		t.Error("secret leaked in MarshalText")
	}
	if s.Value() != "hunter2" {
		t.Error("Value must give the secret")
	}
}

// Problems come in the same order every time, maps in the config (profiles, unit aliases)
// walked in sorted order: `ioc check` prints the same list twice.
func TestProblemsInAStableOrder(t *testing.T) {
	c := Default()
	c.Ingest.Catalog = "/etc/ioc/sensors.yaml"
	for _, name := range []string{"p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8"} {
		c.Ingest.Profiles[name] = Profile{}
		c.Ingest.UnitAliases[" "+name] = ""
	}
	first := c.Validate().Error()
	for range 20 {
		if again := c.Validate().Error(); again != first {
			t.Fatalf("two validations of one config differ:\n%s\n---\n%s", first, again)
		}
	}
	if i, j := strings.Index(first, "ingest.profiles.p1"), strings.Index(first, "ingest.profiles.p8"); i < 0 || j < i {
		t.Errorf("profiles' problems not in sorted order:\n%s", first)
	}
}
