package config

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Problem is one configuration error at a dotted path such as ingest.topics[2].pattern.
type Problem struct {
	Path string
	Msg  string
}

func (p Problem) String() string { return p.Path + ": " + p.Msg }

// Problems is every configuration error found; as an error it prints one per line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Add records a problem at path.
func (ps *Problems) Add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

var catalogID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)

// CatalogIDs checks the ids of a catalog's entries (sensors, cameras): each one well formed
// and unique within its list.
type CatalogIDs struct {
	list string // the list's key, such as cameras
	seen map[string]int
}

// NewCatalogIDs checks the ids of the list named list.
func NewCatalogIDs(list string) *CatalogIDs { return &CatalogIDs{list: list, seen: map[string]int{}} }

// Check records a problem when entry i's id is malformed or taken by an earlier entry.
func (c *CatalogIDs) Check(p *Problems, i int, id string) {
	path := fmt.Sprintf("%s[%d].id", c.list, i)
	switch j, dup := c.seen[id]; {
	case !catalogID.MatchString(id):
		p.Add(path, "want letters, digits and _ . : - (up to 128), got %q", id)
	case dup:
		p.Add(path, "%q is also %s[%d]", id, c.list, j)
	default:
		c.seen[id] = i
	}
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate returns every problem of the configuration (nil when there is none).
func (c *Config) Validate() error {
	var p Problems
	if len(c.Roles) == 0 {
		p.Add("roles", "empty: name at least one of %s", strings.Join(KnownRoles, ", "))
	}
	for i, r := range c.Roles {
		if !slices.Contains(KnownRoles, r) {
			p.Add(fmt.Sprintf("roles[%d]", i), "unknown role %q (known: %s)", r, strings.Join(KnownRoles, ", "))
		}
	}
	oneOf(&p, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(&p, "log.format", c.Log.Format, "auto", "text", "json")

	c.ClickHouse.validate(&p)
	c.MQTT.validate(&p)
	c.Ingest.validate(&p, c.HasRole(RoleIngest))
	c.Writer.validate(&p)
	c.Streams.validate(&p)
	c.Analytics.validate(&p)
	c.Alerts.validate(&p)
	if c.HasRole(RoleAlerts) && !c.HasRole(RoleIngest) {
		p.Add("roles", "the alerts role evaluates what this process ingests: run it with the ingest role")
	}
	if c.HasRole(RoleAlerts) && c.Ingest.SharedGroup != "" {
		p.Add("ingest.shared_group", "set with the alerts role: the broker gives this process a share of the readings only, and its alert engine must judge them all (run the alert processes without a shared group)")
	}
	if c.HasRole(RoleIngest) && c.Ingest.Catalog == "" && !c.Simulator.Enabled {
		p.Add("ingest.catalog", "missing: name the province's sensor catalog file (deploy/catalog/sensors.example.yaml shows its form); "+
			"only the simulated province (simulator.enabled) brings a catalog of its own")
	}
	c.HTTP.validate(&p)
	c.Citizen.validate(&p)
	c.NGSILD.validate(&p)
	positive(&p, "simulator.interval", c.Simulator.Interval)
	if c.Simulator.BadShare < 0 || c.Simulator.BadShare > 1 {
		p.Add("simulator.bad_share", "want a share from 0 to 1, got %g", c.Simulator.BadShare)
	}
	if c.Simulator.Province == "" {
		p.Add("simulator.province", "missing (lao-cai or ben-tre)")
	}
	if c.Simulator.Speed < 0 || c.Simulator.Speed > 100000 {
		p.Add("simulator.speed", "want 0 (the scenario's own) or 1 to 100000, got %g", c.Simulator.Speed)
	}
	if c.Simulator.CameraBasePort < 1 || c.Simulator.CameraBasePort+128 > 65536 {
		p.Add("simulator.camera_base_port", "want a port from 1 to 65408 (the cameras take the 128 ports from it: RTSP, then ONVIF), got %d", c.Simulator.CameraBasePort)
	}
	if c.Simulator.CitizenEvery < 0 {
		p.Add("simulator.citizen_every", "negative")
	}
	if c.Simulator.Enabled && c.Citizen.Enabled && c.Simulator.CitizenEvery > 0 && c.Simulator.CitizenAppToken == "" {
		p.Add("simulator.citizen_app_token", "empty: the simulated citizen app needs an API key of role app")
	}
	if pre := c.Simulator.TopicPrefix; strings.ContainsAny(pre, "+#\x00") || strings.HasPrefix(pre, "/") || strings.HasSuffix(pre, "/") {
		p.Add("simulator.topic_prefix", "want topic levels without wildcards (+, #) and without a leading or trailing /, got %q", pre)
	}
	if len(p) == 0 {
		return nil
	}
	return p
}

func (c *NGSILD) validate(p *Problems) {
	for i, prefix := range c.NotifyTo {
		if u, err := url.Parse(prefix); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			p.Add(fmt.Sprintf("ngsild.notify_to[%d]", i), "want http(s)://host[:port][/path], got %q", prefix)
		}
	}
	if c.MaxSubscriptions < 1 || c.MaxSubscriptions > 10_000 {
		p.Add("ngsild.max_subscriptions", "want 1 to 10000, got %d", c.MaxSubscriptions)
	}
	if c.Attempts < 1 || c.Attempts > 20 {
		p.Add("ngsild.attempts", "want 1 to 20, got %d", c.Attempts)
	}
	positive(p, "ngsild.timeout", c.Timeout)
	names := map[string]bool{}
	for i, ps := range c.Push {
		path := fmt.Sprintf("ngsild.push[%d]", i)
		if ps.Name == "" || names[ps.Name] {
			p.Add(path+".name", "want a name of its own, got %q", ps.Name)
		}
		names[ps.Name] = true
		if u, err := url.Parse(ps.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			p.Add(path+".url", "want the broker's http(s)://host[:port], without credentials (token_env), got %q", ps.URL)
		}
		for _, t := range ps.Types {
			if !slices.Contains(EntityTypes, t) {
				p.Add(path+".types", "unknown entity type %q (known: %s)", t, strings.Join(EntityTypes, ", "))
			}
		}
		if ps.Batch < 0 || ps.Batch > 1000 {
			p.Add(path+".batch", "want 1 to 1000 entities (0: 100), got %d", ps.Batch)
		}
		if ps.Every < 0 {
			p.Add(path+".every", "negative")
		}
	}
}

func (c *Citizen) validate(p *Problems) {
	if !c.Enabled {
		return
	}
	if c.DeviceLimit < 1 {
		p.Add("citizen.device_limit", "want at least 1 report per device_window, got %d", c.DeviceLimit)
	}
	positive(p, "citizen.device_window", c.DeviceWindow)
	if c.MaxRequestBytes < 1<<20 || c.MaxRequestBytes > 256<<20 {
		p.Add("citizen.max_request_bytes", "want 1 MiB to 256 MiB, got %d", c.MaxRequestBytes)
	}
	if c.MaxPhotoBytes < 64<<10 || c.MaxPhotoBytes > c.MaxRequestBytes {
		p.Add("citizen.max_photo_bytes", "want 64 KiB up to max_request_bytes, got %d", c.MaxPhotoBytes)
	}
	if c.MaxPhotoPixels < 1_000_000 || c.MaxPhotoPixels > 200_000_000 {
		p.Add("citizen.max_photo_pixels", "want 1 to 200 megapixels, got %d", c.MaxPhotoPixels)
	}
	s := c.S3
	if s.Endpoint == "" {
		if strings.TrimSpace(c.PhotoDir) == "" {
			p.Add("citizen.photo_dir", "empty: name the folder that keeps the photos, or set citizen.s3")
		}
		return
	}
	if u, err := url.Parse(s.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		p.Add("citizen.s3.endpoint", "want http(s)://host[:port], without credentials (access_key, secret_key_env)")
	}
	if s.Bucket == "" {
		p.Add("citizen.s3.bucket", "empty")
	}
	if s.AccessKey == "" || s.SecretKeyEnv == "" {
		p.Add("citizen.s3", "access_key and secret_key_env (the variable holding the secret) are needed")
	}
	if strings.HasPrefix(s.SecretKeyEnv, "IOC_") {
		p.Add("citizen.s3.secret_key_env", "%s: IOC_* variables are configuration settings; name the secret's variable otherwise", s.SecretKeyEnv)
	}
}

func (c *ClickHouse) validate(p *Problems) {
	addrs := strings.Split(c.Addr, ",")
	if strings.TrimSpace(c.Addr) == "" {
		p.Add("clickhouse.addr", "empty")
	} else {
		for _, a := range addrs {
			if _, port, err := net.SplitHostPort(strings.TrimSpace(a)); err != nil || port == "" {
				p.Add("clickhouse.addr", "want host:port (native protocol, usually 9000), got %q", a)
			}
		}
	}
	if !identifier.MatchString(c.Database) {
		p.Add("clickhouse.database", "want a name of letters, digits and _, got %q", c.Database)
	}
	if c.Cluster != "" && !identifier.MatchString(c.Cluster) {
		p.Add("clickhouse.cluster", "want a cluster name of letters, digits and _, got %q", c.Cluster)
	}
	if c.Username == "" {
		p.Add("clickhouse.username", "empty (ClickHouse's own default user is \"default\")")
	}
	oneOf(p, "clickhouse.compression", c.Compression, "none", "lz4", "zstd")
	positive(p, "clickhouse.dial_timeout", c.DialTimeout)
	positive(p, "clickhouse.query_timeout", c.QueryTimeout)
	c.TLS.validate(p, "clickhouse.tls", false)
	if !c.Secure && c.TLS != (TLS{}) {
		p.Add("clickhouse.tls", "set while clickhouse.secure is off: turn it on and point clickhouse.addr at the secure port (9440)")
	}
}

// validate checks that the files named exist and that a certificate comes with its key.
func (t TLS) validate(p *Problems, path string, server bool) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		p.Add(path, "cert_file and key_file go together")
	}
	if server && t.ServerName != "" {
		p.Add(path+".server_name", "is for client links; the web server's names are in its certificate")
	}
	for _, f := range []struct{ key, v string }{{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile}} {
		if f.v == "" {
			continue
		}
		if _, err := os.Stat(f.v); err != nil {
			p.Add(path+"."+f.key, "%v", err)
		}
	}
}

func (m *MQTT) validate(p *Problems) {
	urls := m.Brokers()
	if len(urls) == 0 {
		p.Add("mqtt.broker", "empty")
	}
	encrypted := 0
	for _, b := range urls {
		u, err := url.Parse(b)
		switch {
		case err != nil:
			p.Add("mqtt.broker", "not a URL: %v", err)
		case !slices.Contains([]string{"tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss"}, u.Scheme):
			p.Add("mqtt.broker", "want a tcp://, ssl://, ws:// or wss:// URL, got scheme %q", u.Scheme)
		case u.Host == "" || u.Port() == "":
			p.Add("mqtt.broker", "want scheme://host:port such as tcp://127.0.0.1:1883")
		case u.User != nil:
			p.Add("mqtt.broker", "holds credentials: put them in mqtt.username and mqtt.password")
		case slices.Contains(tlsSchemes, u.Scheme):
			encrypted++
		}
	}
	if encrypted != 0 && encrypted != len(urls) {
		p.Add("mqtt.broker", "mixes encrypted and plain nodes: use ssl:// (or wss://) for every node of the cluster")
	}
	if m.ClientID == "" {
		p.Add("mqtt.client_id", "empty: a fixed client id keeps the broker session across restarts")
	}
	if m.KeepAlive < time.Second {
		p.Add("mqtt.keepalive", "want at least 1s, got %s", m.KeepAlive)
	}
	positive(p, "mqtt.connect_timeout", m.ConnectTimeout)
	positive(p, "mqtt.max_reconnect_interval", m.MaxReconnectInterval)
	m.TLS.validate(p, "mqtt.tls", false)
	if a := m.Access; a.AdminUsername != "" {
		if a.AdminPasswordEnv == "" || strings.HasPrefix(a.AdminPasswordEnv, EnvPrefix) {
			p.Add("mqtt.access.admin_password_env", "want the name of a variable holding the admin's password (not an IOC_* one), got %q", a.AdminPasswordEnv)
		}
		if a.CredentialsFile == "" {
			p.Add("mqtt.access.credentials_file", "empty: the passwords of new device accounts must be written somewhere to reach the devices")
		}
	} else if a.SyncOnReload {
		p.Add("mqtt.access.sync_on_reload", "needs mqtt.access.admin_username")
	}
	if len(urls) > 0 && encrypted == 0 && m.TLS != (TLS{}) {
		p.Add("mqtt.tls", "set while mqtt.broker is %s, which is not encrypted: use ssl:// (port 8883)", urls[0])
	}
}

func (in *Ingest) validate(p *Problems, required bool) {
	if required && len(in.Topics) == 0 {
		p.Add("ingest.topics", "empty: the ingest role needs at least one topic")
	}
	for i, t := range in.Topics {
		path := fmt.Sprintf("ingest.topics[%d]", i)
		if err := CheckTopicFilter(t.Pattern); err != nil {
			p.Add(path+".pattern", "%v", err)
		}
		// the format's name is ingest's to judge (ingest.CheckConfig): it owns the decoders
		if t.QoS < 0 || t.QoS > 2 {
			p.Add(path+".qos", "want 0, 1 or 2, got %d", t.QoS)
		}
		if t.SensorLevel < 0 || t.SensorLevel > len(strings.Split(t.Pattern, "/")) {
			p.Add(path+".sensor_level", "want 0 (unused) or a level of the pattern, 1 to %d, got %d", len(strings.Split(t.Pattern, "/")), t.SensorLevel)
		}
		if levels := strings.Split(t.Pattern, "/"); t.DeviceLevel < 0 || t.DeviceLevel > len(levels) {
			p.Add(path+".device_level", "want 0 (the topic names no device) or a level of the pattern, 1 to %d, got %d", len(levels), t.DeviceLevel)
		} else if t.DeviceLevel > 0 && levels[t.DeviceLevel-1] != "+" && levels[t.DeviceLevel-1] != "#" {
			p.Add(path+".device_level", "level %d of %q is %q; the level naming the device must be a wildcard (+ or #)", t.DeviceLevel, t.Pattern, levels[t.DeviceLevel-1])
		}
		if t.Profile != "" {
			if _, ok := in.Profiles[t.Profile]; !ok {
				p.Add(path+".profile", "no profile %q under ingest.profiles", t.Profile)
			}
		}
		if t.Format == "mapped" {
			t.Mapping.validate(p, path+".mapping")
		} else if t.Mapping.Sensor != "" || len(t.Mapping.Values) > 0 {
			p.Add(path+".mapping", "only a topic of format mapped takes a mapping (this one is %s)", t.Format)
		}
	}
	if in.SharedGroup != "" && strings.ContainsAny(in.SharedGroup, "/+#") {
		p.Add("ingest.shared_group", "want a name without /, + or #, got %q", in.SharedGroup)
	}
	for _, name := range slices.Sorted(maps.Keys(in.Profiles)) { // problems in a stable order
		prof := in.Profiles[name]
		path := "ingest.profiles." + name
		if len(prof.Values) == 0 {
			p.Add(path+".values", "empty: name at least one field")
		}
		for i, f := range prof.Values {
			f.validate(p, fmt.Sprintf("%s.values[%d]", path, i))
		}
	}
	for _, from := range slices.Sorted(maps.Keys(in.UnitAliases)) {
		to := in.UnitAliases[from]
		if strings.TrimSpace(from) == "" || strings.TrimSpace(to) == "" {
			p.Add("ingest.unit_aliases."+from, "empty unit name")
		}
	}
	if in.MaxPayloadBytes < 1 || in.MaxPayloadBytes > 256<<20 {
		p.Add("ingest.max_payload_bytes", "want 1 to %d, got %d", 256<<20, in.MaxPayloadBytes)
	}
	if in.MaxFutureSkew < 0 {
		p.Add("ingest.max_future_skew", "negative")
	}
	positive(p, "ingest.max_age", in.MaxAge)
	if in.DeadLetterPayloadBytes < 0 || in.DeadLetterPayloadBytes > 1<<20 {
		p.Add("ingest.dead_letter_payload_bytes", "want 0 to %d, got %d", 1<<20, in.DeadLetterPayloadBytes)
	}
}

func (m *Mapping) validate(p *Problems, path string) {
	if m.Sensor == "" {
		p.Add(path+".sensor", "empty: name a JSON path (device.id) or a topic level (topic:4)")
	} else if lvl, ok := strings.CutPrefix(m.Sensor, "topic:"); ok {
		if n, err := strconv.Atoi(lvl); err != nil || n < 1 {
			p.Add(path+".sensor", "want topic:N with N the topic level from 1, got %q", m.Sensor)
		}
	}
	switch m.TimeFormat {
	case "", "rfc3339", "unix", "unix_ms":
	default:
		if !strings.Contains(m.TimeFormat, "2006") {
			p.Add(path+".time_format", "want rfc3339, unix, unix_ms or a Go layout such as 2006-01-02 15:04:05, got %q", m.TimeFormat)
		}
	}
	if m.TimeZone != "" {
		if _, err := time.LoadLocation(m.TimeZone); err != nil {
			p.Add(path+".time_zone", "unknown time zone %q", m.TimeZone)
		}
	}
	if len(m.Values) == 0 {
		p.Add(path+".values", "empty: name at least one field")
	}
	for i, f := range m.Values {
		f.validate(p, fmt.Sprintf("%s.values[%d]", path, i))
	}
}

func (f *FieldMap) validate(p *Problems, path string) {
	if f.Field == "" {
		p.Add(path+".field", "empty")
	}
	if !identifier.MatchString(f.Metric) {
		p.Add(path+".metric", "want a metric name such as water_level, got %q", f.Metric)
	}
}

func (s *Spool) validate(p *Problems) {
	if s.Dir == "" {
		if s.Force {
			p.Add("writer.spool.force", "needs a spool: writer.spool.dir is empty")
		}
		return // no spool
	}
	if s.SegmentBytes < 1<<20 {
		p.Add("writer.spool.segment_bytes", "want at least 1048576 (1 MiB), got %d", s.SegmentBytes)
	}
	if s.MaxBytes < 2*s.SegmentBytes {
		p.Add("writer.spool.max_bytes", "want at least two segments (%d), got %d", 2*s.SegmentBytes, s.MaxBytes)
	}
	oneOf(p, "writer.spool.fsync", s.Fsync, "always", "interval", "never")
	positive(p, "writer.spool.fsync_interval", s.FsyncInterval)
	positive(p, "writer.spool.after", s.After)
}

func (w *Writer) validate(p *Problems) {
	w.Spool.validate(p)
	if w.BatchSize < 1 || w.BatchSize > 1_000_000 {
		p.Add("writer.batch_size", "want 1 to 1000000, got %d", w.BatchSize)
	}
	if w.QueueSize < 1 {
		p.Add("writer.queue_size", "want at least 1, got %d", w.QueueSize)
	}
	positive(p, "writer.flush_interval", w.FlushInterval)
	positive(p, "writer.max_retry_interval", w.MaxRetryInterval)
	positive(p, "writer.shutdown_timeout", w.ShutdownTimeout)
}

func (s *Streams) validate(p *Problems) {
	s.TLS.validate(p, "streams.tls", false)
	if s.TLS.ServerName != "" {
		p.Add("streams.tls.server_name", "not used: an rtsps:// camera's certificate must name the host of its URL")
	}
	oneOf(p, "streams.mode", s.Mode, "metadata", "health", "probe")
	oneOf(p, "streams.transport", s.Transport, "tcp", "udp", "auto")
	positive(p, "streams.request_timeout", s.RequestTimeout)
	positive(p, "streams.stall_timeout", s.StallTimeout)
	positive(p, "streams.window", s.Window)
	positive(p, "streams.sample_interval", s.SampleInterval)
	positive(p, "streams.probe_interval", s.ProbeInterval)
	positive(p, "streams.probe_play", s.ProbePlay)
	positive(p, "streams.reconnect_min", s.ReconnectMin)
	positive(p, "streams.max_clock_skew", s.MaxClockSkew)
	if s.ReconnectMax < s.ReconnectMin {
		p.Add("streams.reconnect_max", "want at least reconnect_min (%s), got %s", s.ReconnectMin, s.ReconnectMax)
	}
	if s.StartSpread < 0 {
		p.Add("streams.start_spread", "negative")
	}
	if s.DegradedShare <= 0 || s.DegradedShare >= 1 {
		p.Add("streams.degraded_share", "want a share between 0 and 1, got %g", s.DegradedShare)
	}
	if s.MaxLoss <= 0 || s.MaxLoss >= 1 {
		p.Add("streams.max_loss", "want a share between 0 and 1, got %g", s.MaxLoss)
	}
	if s.ProbePlay >= s.ProbeInterval {
		p.Add("streams.probe_play", "want less than probe_interval (%s), got %s", s.ProbeInterval, s.ProbePlay)
	}
	if s.MetadataMaxBytes < 1024 || s.MetadataMaxBytes > 16<<20 {
		p.Add("streams.metadata_max_bytes", "want 1024 to %d, got %d", 16<<20, s.MetadataMaxBytes)
	}
	if m := s.MediaMTX; m.API != "" {
		if u, err := url.Parse(m.API); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			p.Add("streams.mediamtx.api", "want the control API's base URL such as http://127.0.0.1:9997, without credentials (user, password_env)")
		}
		positive(p, "streams.mediamtx.sync_interval", m.SyncInterval)
		if m.TokenTTL < 10*time.Second || m.TokenTTL > time.Hour {
			p.Add("streams.mediamtx.token_ttl", "want 10s to 1h, got %s", m.TokenTTL)
		}
		for name, v := range map[string]string{"webrtc_url": m.WebRTCURL, "hls_url": m.HLSURL, "playback_url": m.PlaybackURL} {
			if u, err := url.Parse(v); v != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
				p.Add("streams.mediamtx."+name, "want a base URL such as http://10.0.0.5:8889, got %q", v)
			}
		}
		if m.PasswordEnv != "" && m.User == "" {
			p.Add("streams.mediamtx.user", "empty while password_env is set")
		}
		for j, u := range m.ClipDownloadUnits {
			if _, ok := Units[u]; !ok {
				p.Add(fmt.Sprintf("streams.mediamtx.clip_download_units[%d]", j), "unknown unit %q (known: %s)", u, SortedKeys(Units))
			}
		}
	}
}

var sha256Hash = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func (h *HTTP) validate(p *Problems) {
	if _, _, err := net.SplitHostPort(h.Listen); err != nil {
		p.Add("http.listen", "want host:port such as :8080 or 127.0.0.1:8080, got %q", h.Listen)
	}
	h.TLS.validate(p, "http.tls", true)
	if h.TLS.CertFile == "" && h.TLS.CAFile != "" {
		p.Add("http.tls", "ca_file (client certificates) needs the server's cert_file and key_file")
	}
	if h.RedirectListen != "" {
		if _, _, err := net.SplitHostPort(h.RedirectListen); err != nil {
			p.Add("http.redirect_listen", "want host:port such as :80, got %q", h.RedirectListen)
		} else if h.TLS.CertFile == "" {
			p.Add("http.redirect_listen", "redirects to HTTPS, which needs http.tls.cert_file and key_file")
		}
	}
	if h.HSTSMaxAge < 0 {
		p.Add("http.hsts_max_age", "want a duration (0 sends no Strict-Transport-Security), got %s", h.HSTSMaxAge)
	}
	if h.RateLimit < 0 {
		p.Add("http.rate_limit", "want requests per minute (0 for no limit), got %d", h.RateLimit)
	}
	if h.RefusedTokenLimit < 0 {
		p.Add("http.refused_token_limit", "want refused tokens per client address and minute (0 for no limit), got %d", h.RefusedTokenLimit)
	}
	if h.Metrics.Listen != "" {
		if _, _, err := net.SplitHostPort(h.Metrics.Listen); err != nil {
			p.Add("http.metrics.listen", "want host:port such as 127.0.0.1:9108, got %q", h.Metrics.Listen)
		} else if h.Metrics.Listen == h.Listen {
			p.Add("http.metrics.listen", "the same address as http.listen; leave it empty to serve /metrics there")
		}
	}
	if strings.HasPrefix(h.Metrics.TokenEnv, EnvPrefix) {
		p.Add("http.metrics.token_env", "%q: IOC_* variables are settings; name another variable", h.Metrics.TokenEnv)
	}
	if h.TileURL != "" && h.TilesFile != "" {
		p.Add("http.tiles_file", "set while http.tile_url is set too: the map takes its tiles from one of them")
	}
	if h.TileURL != "" && !(strings.Contains(h.TileURL, "{z}") && strings.Contains(h.TileURL, "{x}") && strings.Contains(h.TileURL, "{y}")) {
		p.Add("http.tile_url", "want a URL with {z}, {x} and {y}, got %q", h.TileURL)
	}
	for _, u := range []struct{ path, v string }{{"http.tile_url", h.TileURL}, {"http.media_url", h.MediaURL}, {"http.auth.jwt.jwks_url", h.Auth.JWT.JWKSURL}} {
		if u.v == "" {
			continue
		}
		if x, err := url.Parse(strings.NewReplacer("{z}", "0", "{x}", "0", "{y}", "0", "{camera}", "c").Replace(u.v)); err != nil || (x.Scheme != "http" && x.Scheme != "https") || x.Host == "" {
			p.Add(u.path, "want an http(s) URL, got %q", u.v)
		}
	}
	ids, hashes := map[string]int{}, map[string]int{}
	for i, k := range h.Auth.APIKeys {
		path := fmt.Sprintf("http.auth.api_keys[%d]", i)
		if j, dup := ids[k.ID]; dup {
			p.Add(path+".id", "%q is also api_keys[%d]", k.ID, j)
		} else if !identifier.MatchString(strings.ReplaceAll(k.ID, "-", "_")) {
			p.Add(path+".id", "want letters, digits, _ and -, got %q", k.ID)
		}
		ids[k.ID] = i
		if !sha256Hash.MatchString(k.Hash) {
			p.Add(path+".hash", "want sha256: and 64 lowercase hex digits, as `ioc token` prints (never the token itself)")
		} else if j, dup := hashes[k.Hash]; dup {
			p.Add(path+".hash", "the same token as api_keys[%d]", j)
		}
		hashes[k.Hash] = i
		oneOf(p, path+".role", k.Role, CallerRoles...)
		if k.Role == RoleUnit && len(k.Units) == 0 {
			p.Add(path+".units", "a unit key needs the units whose alerts it sees")
		}
		if k.Role != RoleUnit && len(k.Units) > 0 {
			p.Add(path+".units", "only a unit key is bound to units")
		}
		for j, u := range k.Units {
			if _, ok := Units[u]; !ok {
				p.Add(fmt.Sprintf("%s.units[%d]", path, j), "unknown unit %q (known: %s)", u, SortedKeys(Units))
			}
		}
		if k.Role != RolePartner && len(k.Types)+len(k.Districts) > 0 {
			p.Add(path+".types", "only a partner key is scoped to entity types and districts")
		}
		for j, t := range k.Types {
			if !slices.Contains(EntityTypes, t) {
				p.Add(fmt.Sprintf("%s.types[%d]", path, j), "unknown entity type %q (known: %s)", t, strings.Join(EntityTypes, ", "))
			}
		}
	}
	if j := h.Auth.JWT; j.JWKSURL != "" {
		if j.Issuer == "" {
			p.Add("http.auth.jwt.issuer", "required with jwks_url: tokens of any other issuer are refused")
		}
		if j.Audience == "" {
			p.Add("http.auth.jwt.audience", "required with jwks_url: tokens meant for another service are refused")
		}
		if j.RoleClaim == "" {
			p.Add("http.auth.jwt.role_claim", "empty")
		}
		if j.Refresh < time.Minute {
			p.Add("http.auth.jwt.refresh", "want at least 1m, got %s", j.Refresh)
		}
	}
	if h.Live.Flush < 5*time.Millisecond || h.Live.Flush > 5*time.Second {
		p.Add("http.live.flush", "want 5ms to 5s, got %s", h.Live.Flush)
	}
	if h.Live.SensorEvery < 0 || h.Live.SensorEvery > time.Minute {
		p.Add("http.live.sensor_every", "want 0 to 1m, got %s", h.Live.SensorEvery)
	}
	if h.Live.ClientQueue < 2 || h.Live.ClientQueue > 10000 {
		p.Add("http.live.client_queue", "want 2 to 10000, got %d", h.Live.ClientQueue)
	}
	if f := h.ForwardCAFile; f != "" {
		if _, err := os.Stat(f); err != nil {
			p.Add("http.forward_ca_file", "%v", err)
		}
	}
	if a := h.AdvertiseURL; a != "" {
		if u, err := url.Parse(a); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || strings.Trim(u.Path, "/") != "" {
			p.Add("http.advertise_url", "want http(s)://host:port, got %q", a)
		}
	}
	if r := h.Live.Relay; r != "" {
		if err := CheckTopicFilter(r); err != nil || strings.ContainsAny(r, "+#$") || strings.HasSuffix(r, "/") {
			p.Add("http.live.relay", "want a topic root without wildcards, $ or a trailing / (such as ioc-live), got %q", r)
		}
		if h.Live.RelayFlush < 10*time.Millisecond || h.Live.RelayFlush > 10*time.Second {
			p.Add("http.live.relay_flush", "want 10ms to 10s, got %s", h.Live.RelayFlush)
		}
	}
}

func (a *Alerts) validate(p *Problems) {
	positive(p, "alerts.tick", a.Tick)
	for i, s := range a.Lease.ZooKeeper {
		if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
			p.Add(fmt.Sprintf("alerts.lease.zookeeper[%d]", i), "want host:port (ZooKeeper's client port, usually 2181), got %q", s)
		}
	}
	if a.Lease.Path != "" && (!strings.HasPrefix(a.Lease.Path, "/") || strings.HasSuffix(a.Lease.Path, "/")) {
		p.Add("alerts.lease.path", "want a ZooKeeper path such as /ioc/laocai/alerts, got %q", a.Lease.Path)
	}
	if len(a.Lease.ZooKeeper) > 0 && a.Lease.SessionTimeout < time.Second {
		p.Add("alerts.lease.session_timeout", "want at least 1s, got %s", a.Lease.SessionTimeout)
	}
	if a.Retry.Attempts < 1 || a.Retry.Attempts > 100 {
		p.Add("alerts.retry.attempts", "want 1 to 100, got %d", a.Retry.Attempts)
	}
	positive(p, "alerts.retry.initial", a.Retry.Initial)
	if a.Retry.Max < a.Retry.Initial {
		p.Add("alerts.retry.max", "want at least retry.initial (%s), got %s", a.Retry.Initial, a.Retry.Max)
	}
	names := map[string]int{}
	for i := range a.Receivers {
		a.Receivers[i].validate(p, fmt.Sprintf("alerts.receivers[%d]", i), names, i)
	}
	a.CAP.validate(p)
}

// capForbidden are what CAP 1.2 forbids in identifiers and sender: white space, commas, < and &.
var capForbidden = regexp.MustCompile(`[\s,<&]`)

func (c *CAP) validate(p *Problems) {
	if c.Sender == "" || capForbidden.MatchString(c.Sender) {
		p.Add("alerts.cap.sender", "want a name without spaces, commas, < or & (e.g. ioc.laocai.gov.vn), got %q", c.Sender)
	}
	oneOf(p, "alerts.cap.status", c.Status, "Actual", "Exercise", "Test")
	if !slices.Contains(c.Languages, "vi") {
		p.Add("alerts.cap.languages", "must list vi (the Vietnamese info block is always sent)")
	}
	for i, l := range c.Languages {
		oneOf(p, fmt.Sprintf("alerts.cap.languages[%d]", i), l, "vi", "en")
	}
	if c.Web != "" {
		if u, err := url.Parse(c.Web); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.Add("alerts.cap.web", "want an http(s) URL, got %q", c.Web)
		}
	}
	if !(c.CircleKM > 0 && c.CircleKM <= 100) {
		p.Add("alerts.cap.circle_km", "want more than 0 and at most 100, got %g", c.CircleKM)
	}
	positive(p, "alerts.cap.window", c.Window)
	oneOf(p, "alerts.cap.approval", c.Approval, "actual", "all")
	if c.SecondApproverFromRisk < 0 || c.SecondApproverFromRisk > 5 {
		p.Add("alerts.cap.second_approver_from_risk", "want a risk level 1 to 5, or 0 for never, got %d", c.SecondApproverFromRisk)
	}
}

func (r *Receiver) validate(p *Problems, path string, names map[string]int, i int) {
	switch j, dup := names[r.Name]; {
	case !identifier.MatchString(strings.ReplaceAll(r.Name, "-", "_")):
		p.Add(path+".name", "want letters, digits, _ and -, got %q", r.Name)
	case dup:
		p.Add(path+".name", "%q is also receivers[%d]", r.Name, j)
	default:
		names[r.Name] = i
	}
	// the type's name is the alerts package's to judge (alerts.CheckReceivers): it owns the
	// receivers; the fields each type needs are checked below
	if len(r.Units) == 0 {
		p.Add(path+".units", "missing: the units whose alerts it receives")
	}
	for _, env := range []struct{ key, name string }{{"secret_env", r.SecretEnv}, {"password_env", r.PasswordEnv}} {
		if strings.HasPrefix(env.name, EnvPrefix) {
			p.Add(path+"."+env.key, "%q: IOC_* variables are settings; name another variable", env.name)
		}
	}
	switch r.Type {
	case "webhook", "gateway":
		u, err := url.Parse(r.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.Add(path+".url", "want an http(s) URL")
		} else if u.User != nil {
			p.Add(path+".url", "holds credentials: put them in secret_env")
		}
	case "email":
		if _, _, err := net.SplitHostPort(r.SMTP); err != nil {
			p.Add(path+".smtp", "want host:port of the mail server, got %q", r.SMTP)
		}
		if !strings.Contains(r.From, "@") {
			p.Add(path+".from", "want an email address, got %q", r.From)
		}
	}
	if (r.Type == "email" || r.Type == "gateway") && len(r.To) == 0 {
		p.Add(path+".to", "missing: the recipients")
	}
	if r.Type == "gateway" && r.Body == "" {
		p.Add(path+".body", "missing: the request body template")
	}
	if r.Language != "" {
		oneOf(p, path+".language", r.Language, "vi", "en")
	}
	if r.GroupWait < 0 || r.Timeout < 0 || r.Queue < 0 {
		p.Add(path, "group_wait, timeout and queue must not be negative")
	}
}

func (a *Analytics) validate(p *Problems) {
	q := a.Queries
	positive(p, "analytics.queries.timeout", q.Timeout)
	positive(p, "analytics.queries.max_range", q.MaxRange)
	positive(p, "analytics.queries.export_timeout", q.ExportTimeout)
	if q.MaxPoints < 1 || q.MaxPoints > 100_000 {
		p.Add("analytics.queries.max_points", "want 1 to 100000, got %d", q.MaxPoints)
	}
	if q.DefaultPoints < 1 || q.DefaultPoints > q.MaxPoints {
		p.Add("analytics.queries.default_points", "want 1 to max_points (%d), got %d", q.MaxPoints, q.DefaultPoints)
	}
	if q.MaxSeries < 1 || q.MaxSeries > 10_000 {
		p.Add("analytics.queries.max_series", "want 1 to 10000, got %d", q.MaxSeries)
	}
	if q.MaxRows < 1000 {
		p.Add("analytics.queries.max_rows", "want at least 1000, got %d", q.MaxRows)
	}
	ru := a.Rollups
	if ru.Interval < time.Second || ru.Interval > 10*time.Minute {
		p.Add("analytics.rollups.interval", "want 1s to 10m, got %s", ru.Interval)
	}
	if ru.Lateness < 0 || ru.Lateness > 24*time.Hour {
		p.Add("analytics.rollups.lateness", "want 0 to 24h, got %s", ru.Lateness)
	}
	for i, m := range ru.FastMetrics {
		if m == "" {
			p.Add(fmt.Sprintf("analytics.rollups.fast_metrics[%d]", i), "want a metric name")
		}
	}
	r := a.Retention
	for _, t := range []struct {
		path string
		d    time.Duration
	}{
		{"readings", r.Readings}, {"readings_1m", r.Readings1m}, {"readings_1h", r.Readings1h}, {"district_1h", r.District1h},
		{"dead_letters", r.DeadLetters}, {"camera_status", r.CameraStatus}, {"camera_events", r.CameraEvents},
		{"ngsild_notifications", r.NGSILDNotifications},
	} {
		if t.d != 0 && t.d < 24*time.Hour {
			p.Add("analytics.retention."+t.path, "want 0 (keep for ever) or at least 24h, got %s", t.d)
		}
	}
	if r.Readings != 0 && r.Readings1m != 0 && r.Readings1m < r.Readings {
		p.Add("analytics.retention.readings_1m", "shorter than the raw readings' %s: trends would lose their minutes before their raw data", r.Readings)
	}
	positive(p, "analytics.retention.interval", r.Interval)
}

// CheckTopicFilter reports what is wrong with an MQTT topic filter (MQTT 3.1.1 §4.7).
func CheckTopicFilter(f string) error {
	if f == "" {
		return fmt.Errorf("empty")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		switch {
		case l == "#" && i != len(levels)-1:
			return fmt.Errorf("%q: # must be the last level", f)
		case l != "#" && strings.Contains(l, "#"):
			return fmt.Errorf("%q: # must fill a whole level", f)
		case l != "+" && strings.Contains(l, "+"):
			return fmt.Errorf("%q: + must fill a whole level", f)
		}
	}
	return nil
}

func oneOf(p *Problems, path, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		p.Add(path, "want one of %s, got %q", strings.Join(allowed, ", "), v)
	}
}

func positive(p *Problems, path string, d time.Duration) {
	if d <= 0 {
		p.Add(path, "want a positive duration such as 250ms or 5s, got %s", d)
	}
}

// SortedKeys lists a map's keys, sorted and comma-separated, for "known: …" in problems.
func SortedKeys[V any](m map[string]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}
