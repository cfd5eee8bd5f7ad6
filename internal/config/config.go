// Package config holds the ioc configuration tree: one YAML file, decoded strictly (an unknown
// key is an error naming its path), with every default in Default and every field overridable
// by an IOC_* environment variable. Validate reports every problem with its path, the way
// `ioc check` prints them.
package config

import (
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Roles that `ioc serve` can run.
const (
	RoleIngest    = "ingest"
	RoleStreams   = "streams"
	RoleDashboard = "dashboard"
	RoleAlerts    = "alerts"
)

// KnownRoles lists the roles this build can run, in start order.
var KnownRoles = []string{RoleIngest, RoleStreams, RoleAlerts, RoleDashboard}

// Config is the whole configuration of one ioc process.
type Config struct {
	// Roles names the parts `ioc serve` runs in this process.
	Roles      []string   `yaml:"roles"`
	Log        Log        `yaml:"log"`
	ClickHouse ClickHouse `yaml:"clickhouse"`
	MQTT       MQTT       `yaml:"mqtt"`
	Ingest     Ingest     `yaml:"ingest"`
	Writer     Writer     `yaml:"writer"`
	Streams    Streams    `yaml:"streams"`
	Analytics  Analytics  `yaml:"analytics"`
	Alerts     Alerts     `yaml:"alerts"`
	HTTP       HTTP       `yaml:"http"`
	Citizen    Citizen    `yaml:"citizen"`
	NGSILD     NGSILD     `yaml:"ngsild"`
	Simulator  Simulator  `yaml:"simulator"`
}

// NGSILD sets what the NGSI-LD API sends beyond its answers: the notifications of the
// subscriptions that partners make, and the entities pushed to other agencies' brokers.
type NGSILD struct {
	// NotifyTo lists the URL prefixes (scheme://host[:port][/path]) that subscriptions may send
	// notifications to: a subscription to any other endpoint is refused, so that no key turns
	// this server against the hosts it reaches. Empty: subscriptions are refused.
	NotifyTo []string `yaml:"notify_to"`
	// MaxSubscriptions bounds the subscriptions of one caller.
	MaxSubscriptions int `yaml:"max_subscriptions"`
	// Attempts bounds the attempts to deliver one notification (with backoff between them).
	Attempts int `yaml:"attempts"`
	// Timeout bounds one notification's or push's request.
	Timeout time.Duration `yaml:"timeout"`
	// Push lists the brokers the entities are upserted to.
	Push []NGSILDPush `yaml:"push"`
}

// NGSILDPush upserts the entities to another agency's NGSI-LD broker (POST
// <url>/ngsi-ld/v1/entityOperations/upsert): all of them at start, then each as it changes.
type NGSILDPush struct {
	// Name names the push in the delivery log and the metrics.
	Name string `yaml:"name"`
	// URL is the broker's base URL (https://host:port).
	URL string `yaml:"url"`
	// Types and Districts narrow what is pushed (EntityTypes; empty: all).
	Types     []string `yaml:"types"`
	Districts []string `yaml:"districts"`
	// Batch is the most entities one request carries; Every the least time between two.
	Batch int           `yaml:"batch"`
	Every time.Duration `yaml:"every"`
	// TokenEnv names the variable holding the broker's bearer token (empty: none).
	TokenEnv string `yaml:"token_env"`
	// Tenant, when set, is sent as NGSILD-Tenant.
	Tenant string `yaml:"tenant"`
}

// Citizen sets the intake of citizen reports (phản ánh hiện trường) from citizen apps.
type Citizen struct {
	// Enabled serves /api/v1/citizen-reports to the keys of the app role.
	Enabled bool `yaml:"enabled"`
	// PhotoDir keeps the photos on local disk (the default store); it must survive restarts.
	PhotoDir string `yaml:"photo_dir"`
	// S3 keeps the photos in S3-compatible object storage instead, when its endpoint is set.
	S3 CitizenS3 `yaml:"s3"`
	// DeviceLimit is how many reports one device of an app may send in DeviceWindow.
	DeviceLimit  int           `yaml:"device_limit"`
	DeviceWindow time.Duration `yaml:"device_window"`
	// MaxRequestBytes bounds a submission with its photos.
	MaxRequestBytes int `yaml:"max_request_bytes"`
	// MaxPhotoBytes and MaxPhotoPixels bound each photo (checked before it is decoded).
	MaxPhotoBytes  int `yaml:"max_photo_bytes"`
	MaxPhotoPixels int `yaml:"max_photo_pixels"`
}

// CitizenS3 names the bucket that keeps the photos, and its credentials.
type CitizenS3 struct {
	Endpoint  string `yaml:"endpoint"`
	Bucket    string `yaml:"bucket"`
	Prefix    string `yaml:"prefix"`
	Region    string `yaml:"region"`
	AccessKey string `yaml:"access_key"`
	// SecretKeyEnv names the environment variable holding the secret key.
	SecretKeyEnv string `yaml:"secret_key_env"`
}

// Log sets the process log.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text, json, or auto (text on a terminal, JSON otherwise).
	Format string `yaml:"format"`
}

// ClickHouse names the ClickHouse server and how to talk to it.
type ClickHouse struct {
	// Addr is host:port of the native protocol; several comma-separated for replicas.
	Addr     string `yaml:"addr"`
	Database string `yaml:"database"`
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// Compression of the native protocol: none, lz4 or zstd.
	Compression  string        `yaml:"compression"`
	DialTimeout  time.Duration `yaml:"dial_timeout"`
	QueryTimeout time.Duration `yaml:"query_timeout"`
	// Cluster names a cluster of the servers' remote_servers: the migrations then create
	// Replicated tables on every replica (ON CLUSTER, coordinated by ZooKeeper or Keeper).
	// Empty: one node.
	Cluster string `yaml:"cluster"`
	// MigrateOnStart applies pending schema migrations when `ioc serve` starts.
	MigrateOnStart bool `yaml:"migrate_on_start"`
	// TLS, when Secure is on, dials ClickHouse's secure native port (tcp_port_secure, 9440)
	// and checks its certificate against ca_file; cert_file and key_file present a client
	// certificate where the server asks for one.
	Secure bool `yaml:"secure"`
	TLS    TLS  `yaml:"tls"`
}

// TLS names one link's TLS files. Paths are read at start and again at SIGHUP; a certificate
// that has expired or a key that is not the certificate's is refused with the file's name.
type TLS struct {
	// CAFile holds the PEM certificates of the authorities that sign the other side: the
	// server's for a client link (the system's roots without one), the clients' for the web
	// server (then every client must present a certificate: mutual TLS).
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are this side's certificate and private key (PEM): the client
	// certificate of mutual TLS, or the web server's certificate.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name the server's certificate must hold, when it is not the host
	// dialled (a client link only).
	ServerName string `yaml:"server_name"`
}

// MQTT names the broker and the client's identity on it.
type MQTT struct {
	// Broker is the broker URL: tcp://, ssl://, ws:// or wss://; credentials go in Username and
	// Password. A clustered broker is a comma-separated list of its nodes' URLs, tried in order
	// at each (re)connection.
	Broker string `yaml:"broker"`
	// ClientID is fixed so that the broker keeps the session (and unacknowledged messages) across restarts.
	ClientID       string        `yaml:"client_id"`
	Username       string        `yaml:"username"`
	Password       Secret        `yaml:"password"`
	KeepAlive      time.Duration `yaml:"keepalive"`
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// MaxReconnectInterval caps the exponential backoff between reconnect attempts.
	MaxReconnectInterval time.Duration `yaml:"max_reconnect_interval"`
	// TLS is used by ssl://, tls://, mqtts:// and wss:// brokers: ca_file checks the broker,
	// cert_file and key_file are ioc's client certificate (mutual TLS).
	TLS TLS `yaml:"tls"`
	// Access keeps the broker's accounts and ACLs in step with the sensor catalog (Mosquitto's
	// dynamic security plugin): `ioc broker sync`, and at each catalog reload when on.
	Access Access `yaml:"access"`
}

// Advertised is AdvertiseURL, or the URL derived from Listen on the machine named hostname.
func (h HTTP) Advertised(hostname string) string {
	if h.AdvertiseURL != "" {
		return strings.TrimSuffix(h.AdvertiseURL, "/")
	}
	scheme := "http"
	if h.TLS.CertFile != "" {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(h.Listen)
	if err != nil {
		return scheme + "://" + h.Listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = hostname
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// Brokers is Broker's list of node URLs (one for a single broker).
func (m MQTT) Brokers() []string {
	var urls []string
	for _, b := range strings.Split(m.Broker, ",") {
		if b = strings.TrimSpace(b); b != "" {
			urls = append(urls, b)
		}
	}
	return urls
}

// Encrypted says whether the brokers are reached over TLS (ssl://, tls://, mqtts://, wss://).
func (m MQTT) Encrypted() bool {
	urls := m.Brokers()
	return len(urls) > 0 && slices.ContainsFunc(tlsSchemes, func(s string) bool { return strings.HasPrefix(urls[0], s+"://") })
}

// tlsSchemes are the broker URL schemes that encrypt.
var tlsSchemes = []string{"ssl", "tls", "mqtts", "wss"}

// Access says how ioc manages the broker's device accounts and ACLs.
type Access struct {
	// AdminUsername is the dynamic security plugin's administrator (mosquitto_ctrl dynsec
	// init); empty turns the management off.
	AdminUsername string `yaml:"admin_username"`
	// AdminPasswordEnv names the environment variable holding its password.
	AdminPasswordEnv string `yaml:"admin_password_env"`
	// CredentialsFile is where the password of every account sync creates or rotates is
	// written (YAML, username: password, readable by the owner only), to hand to the device.
	CredentialsFile string `yaml:"credentials_file"`
	// SyncOnReload runs the sync at each catalog reload (SIGHUP) of `ioc serve`.
	SyncOnReload bool `yaml:"sync_on_reload"`
	// Gateways are usernames that may publish on the topics that name no device (an NVR's
	// frigate/events, a vendor gateway's topics).
	Gateways []string `yaml:"gateways"`
}

// Ingest sets what the MQTT ingester subscribes to and what it accepts.
type Ingest struct {
	Topics []Topic `yaml:"topics"`
	// SharedGroup, when set, subscribes every topic as $share/<group>/<pattern>, so that several
	// ioc processes with the same group (and distinct mqtt.client_id) split the traffic.
	SharedGroup string `yaml:"shared_group"`
	// Catalog is the sensor catalog file (YAML); empty uses the built-in catalog of the
	// simulated province.
	Catalog string `yaml:"catalog"`
	// AcceptUnknownSensors stores readings of sensors missing from the catalog, flagged with
	// quality unknown_sensor, instead of rejecting them as dead letters.
	AcceptUnknownSensors bool `yaml:"accept_unknown_sensors"`
	// UnitAliases maps the unit spellings devices send to units ingest knows, e.g. "deg C": Cel.
	UnitAliases map[string]string `yaml:"unit_aliases"`
	// Profiles map the fields of a device's payload to metrics: The Things Stack uplinks use the
	// profile named by the sensor's catalog entry or by the topic.
	Profiles map[string]Profile `yaml:"profiles"`
	// MaxPayloadBytes rejects larger messages as dead letters (reason oversized).
	MaxPayloadBytes int `yaml:"max_payload_bytes"`
	// MaxFutureSkew rejects readings stamped further in the future than this.
	MaxFutureSkew time.Duration `yaml:"max_future_skew"`
	// MaxAge rejects readings older than this horizon.
	MaxAge time.Duration `yaml:"max_age"`
	// DeadLetterPayloadBytes bounds the copy of a rejected payload kept in dead_letters.
	DeadLetterPayloadBytes int `yaml:"dead_letter_payload_bytes"`
}

// Topic is one subscription and the payload format expected on it.
type Topic struct {
	// Pattern is an MQTT topic filter (+ and # wildcards).
	Pattern string `yaml:"pattern"`
	// Format is the payload decoder: json, senml, ttn, mapped, or frigate (NVR camera events).
	Format string `yaml:"format"`
	// QoS of the subscription; 1 (the default) is needed for no loss.
	QoS int `yaml:"qos"`
	// Profile is the default device profile of a ttn topic, for devices whose catalog entry
	// names none; empty takes every decoded field named like a known metric.
	Profile string `yaml:"profile"`
	// SensorLevel, when positive, takes the sensor id from this level of the topic (1 is the
	// first level): for senml devices that put their id in the topic and send bare metric names.
	SensorLevel int `yaml:"sensor_level"`
	// DeviceLevel, when positive, is the level of the topic that names the device publishing
	// (1 is the first level): every reading on such a topic must be that device's own (else a
	// dead letter, identity_mismatch), and `ioc broker sync` lets each device publish only on
	// the topics that name it. 0: the topic names no device (an NVR's, a gateway's).
	DeviceLevel int `yaml:"device_level"`
	// Mapping describes a mapped (vendor JSON) payload.
	Mapping Mapping `yaml:"mapping"`
}

// Mapping says where a vendor's JSON payload keeps the sensor id, the time and the values.
// Paths are dotted (device.id, data.0.level); a leading "topic:" takes a topic level instead
// (topic:4 is the fourth level).
type Mapping struct {
	// Sensor is where the sensor id is: a JSON path or topic:N.
	Sensor string `yaml:"sensor"`
	// Time is the JSON path of the timestamp; empty uses the time the message arrived.
	Time string `yaml:"time"`
	// TimeFormat is rfc3339, unix (seconds), unix_ms, or a Go layout such as 2006-01-02 15:04:05.
	TimeFormat string `yaml:"time_format"`
	// TimeZone applies to layouts without a zone; an IANA name, Asia/Ho_Chi_Minh by default.
	TimeZone string `yaml:"time_zone"`
	// Values are the fields that hold readings.
	Values []FieldMap `yaml:"values"`
}

// Profile is the field mapping of one kind of device.
type Profile struct {
	Values []FieldMap `yaml:"values"`
}

// FieldMap maps one payload field to a metric.
type FieldMap struct {
	// Field is the JSON path of the value.
	Field string `yaml:"field"`
	// Metric is the metric it becomes (see docs/OPERATIONS.md for the known metrics).
	Metric string `yaml:"metric"`
	// Unit is the unit the device sends the value in; empty means the metric's canonical unit.
	Unit string `yaml:"unit"`
}

// DefaultTopic is what a topic entry holds for the keys it leaves out.
var DefaultTopic = Topic{Format: "json", QoS: 1}

// UnmarshalYAML fills the keys a topic entry leaves out from DefaultTopic, so that an omitted
// qos means 1, not 0.
func (t *Topic) UnmarshalYAML(n *yaml.Node) error {
	type plain Topic // no UnmarshalYAML: decodes field by field
	p := plain(DefaultTopic)
	if err := n.Decode(&p); err != nil {
		return err
	}
	*t = Topic(p)
	return nil
}

// Writer sets the batched ClickHouse writer.
type Writer struct {
	// BatchSize flushes once this many rows wait.
	BatchSize int `yaml:"batch_size"`
	// FlushInterval flushes whatever waits at least this often.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// QueueSize bounds the rows (readings and dead letters) waiting for the writer; a full
	// queue slows the subscriber down, and the broker holds the rest.
	QueueSize int `yaml:"queue_size"`
	// MaxRetryInterval caps the backoff between attempts to store a failed batch.
	MaxRetryInterval time.Duration `yaml:"max_retry_interval"`
	// ShutdownTimeout bounds the final flush on shutdown.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	Spool           Spool         `yaml:"spool"`
}

// Spool is the writer's disk spool: batches that ClickHouse cannot take in time are written
// there (and acknowledged), then replayed in order when ClickHouse answers again.
type Spool struct {
	// Dir holds the segment files; it must survive restarts. Empty turns the spool off: then a
	// batch ClickHouse refuses stays unacknowledged, and the broker keeps its messages.
	Dir string `yaml:"dir"`
	// MaxBytes bounds the spool; when it is full, intake waits (messages stay unacknowledged).
	MaxBytes int64 `yaml:"max_bytes"`
	// SegmentBytes is the size at which a new segment file starts.
	SegmentBytes int64 `yaml:"segment_bytes"`
	// Fsync is always (each batch is on disk before its messages are acknowledged), interval
	// (fsync every FsyncInterval: survives a process crash, may lose the last interval on power
	// loss) or never (leave it to the OS).
	Fsync         string        `yaml:"fsync"`
	FsyncInterval time.Duration `yaml:"fsync_interval"`
	// After is how long the writer keeps retrying a batch before it spools it.
	After time.Duration `yaml:"after"`
	// Force sends every batch through the spool (for benchmarks and drills).
	Force bool `yaml:"force"`
}

// Streams sets how the cameras of the camera catalog are watched.
type Streams struct {
	// Catalog is the camera catalog file (YAML); empty watches no camera.
	Catalog string `yaml:"catalog"`
	// TLS checks the certificates of rtsps:// cameras (ca_file: the cameras' or the VMS's
	// authority; the system's roots without one) and presents cert_file where a camera asks.
	TLS TLS `yaml:"tls"`
	// Mode is the monitoring mode of cameras whose entry names none: metadata (the ONVIF
	// metadata track only), health (the video track, measured continuously) or probe
	// (DESCRIBE and a short PLAY every probe_interval).
	Mode string `yaml:"mode"`
	// Transport is how RTP arrives: tcp (interleaved in the RTSP connection, one socket per
	// camera, crosses firewalls), udp, or auto (UDP first, then TCP).
	Transport string `yaml:"transport"`
	// RequestTimeout bounds each RTSP request and read; a camera that does not answer in time
	// is offline with reason timeout.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// StallTimeout: a playing camera that sends no packet for this long is offline (stalled),
	// and its session is restarted.
	StallTimeout time.Duration `yaml:"stall_timeout"`
	// Window is the span over which frame rate, bitrate and loss are measured and judged.
	Window time.Duration `yaml:"window"`
	// SampleInterval is how often each camera's health is stored when its state does not change.
	SampleInterval time.Duration `yaml:"sample_interval"`
	// ProbeInterval is the time between two probes of a camera in probe mode.
	ProbeInterval time.Duration `yaml:"probe_interval"`
	// ProbePlay is how long a probe plays the video track.
	ProbePlay time.Duration `yaml:"probe_play"`
	// DegradedShare: a camera whose frame rate or bitrate falls under this share of what its
	// catalog entry (or its SPS) expects is degraded.
	DegradedShare float64 `yaml:"degraded_share"`
	// MaxLoss: a camera losing a larger share of its RTP packets over a window is degraded.
	MaxLoss float64 `yaml:"max_loss"`
	// StartSpread spreads the first connection of all cameras over this span, so that a
	// restart does not hit every camera (and the network) at once.
	StartSpread time.Duration `yaml:"start_spread"`
	// ReconnectMin and ReconnectMax bound the exponential backoff (with jitter) between
	// attempts to reach an offline camera.
	ReconnectMin time.Duration `yaml:"reconnect_min"`
	ReconnectMax time.Duration `yaml:"reconnect_max"`
	// MaxClockSkew: an event stamped further than this from the server clock (a camera whose
	// clock was never set) is stored at the time it arrived, with the camera's time kept in
	// its data.
	MaxClockSkew time.Duration `yaml:"max_clock_skew"`
	// MetadataMaxBytes bounds one ONVIF metadata document; larger ones are refused.
	MetadataMaxBytes int `yaml:"metadata_max_bytes"`
	// MediaMTX is the media server that re-streams the cameras to browsers: ioc keeps its
	// paths in step with the camera catalog.
	MediaMTX MediaMTX `yaml:"mediamtx"`
}

// MediaMTX names a MediaMTX server's control API; ioc keeps a path for each catalog camera
// there (streams/mediamtx).
type MediaMTX struct {
	// API is the control API's base URL, such as http://127.0.0.1:9997; empty: no MediaMTX.
	API string `yaml:"api"`
	// User and PasswordEnv (an environment variable holding the password), when MediaMTX asks
	// the API's callers for them.
	User        string `yaml:"user"`
	PasswordEnv string `yaml:"password_env"`
	// SyncInterval is how often the paths are checked against the catalog (and at each reload).
	SyncInterval time.Duration `yaml:"sync_interval"`
	// WebRTCURL and HLSURL are MediaMTX's WebRTC and HLS servers as browsers reach them, such as
	// http://10.0.0.5:8889; the live answer names cam/<id>/whep and cam/<id>/index.m3u8 there.
	WebRTCURL string `yaml:"webrtc_url"`
	HLSURL    string `yaml:"hls_url"`
	// PlaybackURL is MediaMTX's playback server as ioc reaches it (never given to browsers),
	// such as http://127.0.0.1:9996: the recorded clips of cameras with record set.
	PlaybackURL string `yaml:"playback_url"`
	// TokenTTL is how long a browser's token to read a camera lasts (the page renews it).
	TokenTTL time.Duration `yaml:"token_ttl"`
	// TokenSecretEnv names an environment variable holding the key that signs the tokens; every
	// dashboard process MediaMTX may ask needs the same. Empty: a random key of this process.
	TokenSecretEnv string `yaml:"token_secret_env"`
	// ClipDownloadUnits are the units whose members may save recorded clips (administrators
	// always may); each download is audited.
	ClipDownloadUnits []string `yaml:"clip_download_units"`
}

// Alerts sets the alert engine and where its notifications go.
type Alerts struct {
	// Rules is the alert rule file (YAML, reloaded on SIGHUP); empty uses the built-in rules
	// (deploy/rules/rules.example.yaml).
	Rules string `yaml:"rules"`
	// Incidents is the incident file (YAML, reloaded with the rules): how alerts gather into
	// incidents and the response procedures; empty uses the built-in one
	// (deploy/rules/incidents.example.yaml).
	Incidents string `yaml:"incidents"`
	// Tick is how often time-driven transitions are judged (for, clear_for, absence,
	// escalation).
	Tick time.Duration `yaml:"tick"`
	// Retry bounds each notification's delivery attempts.
	Retry Retry `yaml:"retry"`
	// Receivers are where notifications go, each for one or more units.
	Receivers []Receiver `yaml:"receivers"`
	// CAP is the public warning feed: the alerts of rules marked public, as OASIS CAP 1.2.
	CAP CAP `yaml:"cap"`
	// Lease elects one alert engine among several ioc processes with the alerts role.
	Lease Lease `yaml:"lease"`
}

// Lease configures the alert engine's election in ZooKeeper or ClickHouse Keeper. Without
// servers, the process's engine is the only one and always active.
type Lease struct {
	// ZooKeeper lists the coordination servers, host:port.
	ZooKeeper []string `yaml:"zookeeper"`
	// Path is the election's node; empty: /ioc/<clickhouse.database>/alerts.
	Path string `yaml:"path"`
	// SessionTimeout bounds how long a dead leader keeps the standby waiting (the takeover
	// takes this plus the restore); within ZooKeeper's 2 to 20 ticks.
	SessionTimeout time.Duration `yaml:"session_timeout"`
}

// CAP configures the public warning feed (/cap/feed.atom and one CAP 1.2 document per message).
type CAP struct {
	// Sender identifies the issuer in every message (CAP sender), e.g. ioc.laocai.gov.vn.
	Sender string `yaml:"sender"`
	// SenderName is the issuer's name shown to the public (CAP senderName).
	SenderName string `yaml:"sender_name"`
	// Status is Actual, Exercise or Test: what receivers must make of the messages.
	Status string `yaml:"status"`
	// Languages are the info blocks each message carries: vi always, en where listed.
	Languages []string `yaml:"languages"`
	// Web is a page with more information for the public (CAP web); Contact says whom to call.
	Web     string `yaml:"web"`
	Contact string `yaml:"contact"`
	// CircleKM is the radius of the circle around a sensor or camera whose district has no
	// polygon in the sensor catalog.
	CircleKM float64 `yaml:"circle_km"`
	// Window is how long a message stays in the feed once its alert has ended.
	Window time.Duration `yaml:"window"`
	// Approval says which messages wait for a person to release them: actual (every Actual
	// message; Exercise and Test go out at once, marked) or all. A message of a suspect alert
	// always waits. A Cancel of a published warning never waits.
	Approval string `yaml:"approval"`
	// SecondApproverFromRisk asks a second, different person to approve the messages of
	// alerts at this disaster risk level or above (QĐ 18/2021: levels 4 and 5); 0 never.
	SecondApproverFromRisk int `yaml:"second_approver_from_risk"`
}

// Retry is a bounded retry policy with exponential backoff and jitter.
type Retry struct {
	Attempts int           `yaml:"attempts"`
	Initial  time.Duration `yaml:"initial"`
	Max      time.Duration `yaml:"max"`
}

// Receiver is one notification channel of one or more units.
type Receiver struct {
	Name string `yaml:"name"`
	// Type is webhook (JSON, HMAC-signed), email (SMTP) or gateway (an SMS or Zalo OA
	// gateway called as a templated HTTP request).
	Type string `yaml:"type"`
	// Units are the units whose alerts this receiver gets.
	Units []string `yaml:"units"`
	// URL is the webhook's or gateway's address.
	URL string `yaml:"url"`
	// SecretEnv names the environment variable holding the webhook's HMAC key or the
	// gateway's token (never an IOC_* variable, never in this file).
	SecretEnv string `yaml:"secret_env"`
	// SMTP is the mail server (host:port) of an email receiver; From the sender.
	SMTP     string `yaml:"smtp"`
	From     string `yaml:"from"`
	Username string `yaml:"username"`
	// PasswordEnv names the environment variable holding the SMTP password.
	PasswordEnv string `yaml:"password_env"`
	// To are the email addresses, phone numbers or Zalo user ids.
	To []string `yaml:"to"`
	// Method, Headers and Body shape a gateway's request; Body and header values are
	// text/template texts over .To (one recipient), .Text (the Vietnamese message), .Token
	// and .Notifications, with a json function for quoting.
	Method  string            `yaml:"method"`
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`
	// Language of the message: vi (default) or en.
	Language string `yaml:"language"`
	// GroupWait gathers the notifications of one routing group for this long into one
	// message; zero sends each at once.
	GroupWait time.Duration `yaml:"group_wait"`
	// Timeout bounds one delivery attempt.
	Timeout time.Duration `yaml:"timeout"`
	// Queue bounds the notifications waiting for this receiver; past it they are dropped,
	// counted and logged.
	Queue int `yaml:"queue"`
}

// Analytics bounds history queries and sets how long each table keeps its rows.
type Analytics struct {
	// MinuteRollup keeps a 1-minute rollup of the fast metrics (Rollups.FastMetrics); off,
	// trends read the raw table for buckets under an hour.
	MinuteRollup bool      `yaml:"minute_rollup"`
	Rollups      Rollups   `yaml:"rollups"`
	Queries      Queries   `yaml:"queries"`
	Retention    Retention `yaml:"retention"`
}

// Rollups configure the aggregation of stored readings in memory (each ingest process counts
// what it stores and writes the buckets that changed every interval).
type Rollups struct {
	// Enabled: false writes no rollups at all (trends over an hour then show nothing): only
	// for measuring what they cost (make bench-ingest), or for a process whose readings no
	// one charts.
	Enabled bool `yaml:"enabled"`
	// Interval is how often the changed buckets are written: how far the rollups trail the
	// raw table.
	Interval time.Duration `yaml:"interval"`
	// Lateness is how long after its end an hour stays in memory for late readings; a reading
	// later still reopens its hour, which is loaded again from the raw table.
	Lateness time.Duration `yaml:"lateness"`
	// FastMetrics have a minute rollup too (the others an hourly one only).
	FastMetrics []string `yaml:"fast_metrics"`
}

// Queries bounds every history query (trends, districts, top-N, exports).
type Queries struct {
	// Timeout ends a query that runs longer, on the server too.
	Timeout time.Duration `yaml:"timeout"`
	// MaxRange is the longest range one query may cover.
	MaxRange time.Duration `yaml:"max_range"`
	// DefaultPoints is a trend's point budget per series when the caller gives none.
	DefaultPoints int `yaml:"default_points"`
	// MaxPoints is the largest point budget a caller may ask for.
	MaxPoints int `yaml:"max_points"`
	// MaxSeries bounds the sensors of one trend and the rows of a top-N list.
	MaxSeries int `yaml:"max_series"`
	// MaxRows bounds the rows the server may return for one query (exports excepted: they
	// stream).
	MaxRows int `yaml:"max_rows"`
	// ExportTimeout ends a CSV export that runs longer.
	ExportTimeout time.Duration `yaml:"export_timeout"`
}

// Retention is how long each table keeps its rows; 0 keeps them for ever. Whole partitions
// (months of raw rows, years of hourly rollups) are dropped once all they hold is older.
type Retention struct {
	Readings     time.Duration `yaml:"readings"`
	Readings1m   time.Duration `yaml:"readings_1m"`
	Readings1h   time.Duration `yaml:"readings_1h"`
	District1h   time.Duration `yaml:"district_1h"`
	DeadLetters  time.Duration `yaml:"dead_letters"`
	CameraStatus time.Duration `yaml:"camera_status"`
	CameraEvents time.Duration `yaml:"camera_events"`
	// NGSILDNotifications keeps the NGSI-LD delivery log.
	NGSILDNotifications time.Duration `yaml:"ngsild_notifications"`
	// Interval is how often retention is enforced.
	Interval time.Duration `yaml:"interval"`
}

// HTTP sets the dashboard server.
type HTTP struct {
	// Listen is the host:port the HTTP server binds.
	Listen string `yaml:"listen"`
	// AdvertiseURL is where the other processes of a deployment reach this one's HTTP API
	// (the alert leader's, to send it alert requests); empty: http(s)://<listen host, or this
	// machine's name when Listen binds every address>:<port>.
	AdvertiseURL string `yaml:"advertise_url"`
	// ForwardCAFile is the CA (PEM) that signed the other processes' HTTPS certificates, which
	// a dashboard checks when it sends alert requests on to the leader; empty: tls.ca_file,
	// else the system's roots.
	ForwardCAFile string `yaml:"forward_ca_file"`
	// TLS, with cert_file and key_file, serves HTTPS on Listen (and with ca_file asks every
	// client for a certificate that CA signed). HSTS is sent on every answer then.
	TLS TLS `yaml:"tls"`
	// RedirectListen, with TLS, is a host:port (e.g. :80) answering every plain HTTP request
	// with a permanent redirect to the same path over HTTPS.
	RedirectListen string `yaml:"redirect_listen"`
	// HSTSMaxAge is the Strict-Transport-Security max-age sent over HTTPS (default one year).
	HSTSMaxAge time.Duration `yaml:"hsts_max_age"`
	// RateLimit is how many API requests one caller (one token) may make per minute; 0 turns
	// the limit off.
	RateLimit int `yaml:"rate_limit"`
	// RefusedTokenLimit is how many refused tokens one client address may send per minute;
	// past it the address is answered 429 without its token being looked at until the minute
	// is over, and the log says so once. 0 turns the limit off.
	RefusedTokenLimit int `yaml:"refused_token_limit"`
	// Metrics says who may read /metrics.
	Metrics Metrics `yaml:"metrics"`
	// TileURL is an optional map tile server on the closed network, e.g.
	// http://tiles.local/{z}/{x}/{y}.png; without one the map draws the district outlines of the
	// sensor catalog.
	TileURL string `yaml:"tile_url"`
	// TilesFile is an optional PMTiles archive (version 3) of map tiles that ioc serves itself
	// at /api/v1/tiles/{z}/{x}/{y}, for a closed network without a tile server; set it or
	// TileURL, not both.
	TilesFile string `yaml:"tiles_file"`
	// MediaURL is an optional media server address of a camera's live view, with {camera}
	// replaced by the camera's id, e.g. http://media.local:8889/{camera}/.
	MediaURL string `yaml:"media_url"`
	// Auth says who may call the API.
	Auth Auth `yaml:"auth"`
	// Live tunes the WebSocket hub.
	Live Live `yaml:"live"`
}

// Metrics guards the Prometheus metrics: by default /metrics answers on http.listen to anyone
// who reaches the port.
type Metrics struct {
	// Listen, when set, serves /metrics on its own host:port (e.g. 127.0.0.1:9108 or an
	// address of the management network) and no longer on http.listen.
	Listen string `yaml:"listen"`
	// TokenEnv names an environment variable holding a token that a scraper must send as
	// "Authorization: Bearer <token>" (Prometheus' bearer_token / authorization settings).
	TokenEnv string `yaml:"token_env"`
}

// Auth lists the bearer tokens the API accepts: API keys, and JWTs of an identity provider.
type Auth struct {
	// APIKeys are tokens made with `ioc token`; only their SHA-256 is kept here.
	APIKeys []APIKey `yaml:"api_keys"`
	// JWT accepts tokens signed by an identity provider's keys (JWKS).
	JWT JWT `yaml:"jwt"`
}

// Units are the province's units that alerts are routed to, by id, with their Vietnamese
// names: the one list the sensor and camera catalogs' owner units, the routes, the receivers
// and the unit API keys are checked against.
var Units = map[string]string{
	"police":         "Công an tỉnh – Trung tâm thông tin chỉ huy",
	"traffic_police": "Phòng Cảnh sát giao thông",
	"fire_police":    "Cảnh sát PCCC & CNCH",
	"flood_control":  "Ban Chỉ huy PCTT & TKCN",
	"water_utility":  "Công ty cấp thoát nước",
	"environment":    "Sở Tài nguyên và Môi trường",
	"ioc":            "Trung tâm IOC",
}

// Roles a caller may have.
const (
	RoleAdmin    = "admin"
	RoleOperator = "operator"
	RoleUnit     = "unit"
	RoleAnalyst  = "analyst"
	RoleViewer   = "viewer"
	// RoleApp is a citizen app: it submits citizen reports and reads their status, nothing else.
	RoleApp = "app"
	// RolePartner is another agency reading the NGSI-LD API, within its key's entity types
	// and districts, nothing else.
	RolePartner = "partner"
)

// CallerRoles lists the roles of API callers.
var CallerRoles = []string{RoleAdmin, RoleOperator, RoleUnit, RoleAnalyst, RoleViewer, RoleApp, RolePartner}

// EntityTypes are the NGSI-LD entity types the API serves (Smart Data Models), which a
// partner's key may be scoped to.
var EntityTypes = []string{"Alert", "Camera", "Device", "TrafficFlowObserved", "WaterObserved", "WaterQualityObserved", "WeatherObserved"}

// APIKey is one caller's token, kept hashed.
type APIKey struct {
	// ID names the key in the audit log and in metrics; Name is who holds it.
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	Role string `yaml:"role"`
	// Units bind a unit key to the units whose alerts it sees (police, traffic_police, …).
	Units []string `yaml:"units"`
	// Types and Districts scope a partner key: the NGSI-LD entity types (EntityTypes) and the
	// districts whose entities it reads; empty: all.
	Types     []string `yaml:"types"`
	Districts []string `yaml:"districts"`
	// Hash is "sha256:" and the hex SHA-256 of the token.
	Hash string `yaml:"hash"`
	// Expires, when set, is when the key stops being accepted (RFC 3339, or a date).
	Expires time.Time `yaml:"expires"`
}

// JWT configures tokens of an external identity provider (Keycloak, …).
type JWT struct {
	// JWKSURL is where the provider publishes its signing keys; empty turns JWTs off.
	JWKSURL  string `yaml:"jwks_url"`
	Issuer   string `yaml:"issuer"`
	Audience string `yaml:"audience"`
	// RoleClaim, UnitsClaim and NameClaim name the claims holding the caller's role (one of
	// the roles, or a list holding one), units and display name.
	RoleClaim  string `yaml:"role_claim"`
	UnitsClaim string `yaml:"units_claim"`
	NameClaim  string `yaml:"name_claim"`
	// Refresh is how often the keys are read again (at once, at most every 30s, for a token
	// signed with a key not seen yet).
	Refresh time.Duration `yaml:"refresh"`
}

// Live tunes the dashboard's WebSocket hub.
type Live struct {
	// Flush is how often the hub sends clients what changed.
	Flush time.Duration `yaml:"flush"`
	// SensorEvery is the least time between two values of one sensor's metric sent to
	// clients: a chattier sensor is coalesced to its latest value.
	SensorEvery time.Duration `yaml:"sensor_every"`
	// ClientQueue is how many frames wait for one client before it counts as slow and is sent
	// the latest state instead.
	ClientQueue int `yaml:"client_queue"`
	// Relay, when set, is the MQTT topic root through which the processes of one deployment
	// share their live data: each publishes what it accepts under <relay>/<process>, and each
	// dashboard shows what every process accepted. Set the same root on every process of a
	// deployment that runs several; empty (one process) turns it off.
	Relay string `yaml:"relay"`
	// RelayFlush is how often a process publishes its coalesced live data to the relay.
	RelayFlush time.Duration `yaml:"relay_flush"`
}

// Simulator is the simulated province (`ioc sim province`) that `make demo` runs inside the
// server: its sensors publish to the broker, its cameras serve RTSP on this machine.
type Simulator struct {
	Enabled bool `yaml:"enabled"`
	// Province is the built-in province simulated: lao-cai (mountains) or ben-tre (delta).
	Province string `yaml:"province"`
	// Scenario, when set, is played from its simulated start; the whole server then runs on
	// the simulation's clock.
	Scenario string `yaml:"scenario"`
	// Scenarios is a scenario file; empty uses the built-in scenarios.
	Scenarios string `yaml:"scenarios"`
	// Speed is the time-acceleration factor; 0 plays a scenario at its own speed and the live
	// province in real time.
	Speed float64 `yaml:"speed"`
	// Interval between two readings of one sensor (simulated time), when no scenario sets it.
	Interval time.Duration `yaml:"interval"`
	// BadShare is the share (0..1) of deliberately malformed payloads, to show validation at work.
	BadShare float64 `yaml:"bad_share"`
	// Seed makes a run repeatable.
	Seed int64 `yaml:"seed"`
	// Cameras runs the province's cameras as simulated RTSP cameras on ports from
	// CameraBasePort, watched when streams.catalog names no catalog.
	Cameras        bool `yaml:"cameras"`
	CameraBasePort int  `yaml:"camera_base_port"`
	// TopicPrefix, when set, goes before every topic the simulator publishes (with a "/"), to
	// keep simulated traffic apart on a shared broker; ingest.topics must then carry it too.
	TopicPrefix string `yaml:"topic_prefix"`
	// CitizenEvery, with citizen.enabled, has a simulated citizen app send a report with photos
	// this often (on average) to this process's API, with the key CitizenAppToken (role app);
	// zero sends none.
	CitizenEvery    time.Duration `yaml:"citizen_every"`
	CitizenAppToken Secret        `yaml:"citizen_app_token"`
}

// Default returns the built-in configuration: local ClickHouse and Mosquitto, HTTP on :8080.
func Default() Config {
	return Config{
		Roles: []string{RoleIngest, RoleStreams, RoleAlerts, RoleDashboard},
		Log:   Log{Level: "info", Format: "auto"},
		ClickHouse: ClickHouse{
			Addr:           "127.0.0.1:9000",
			Database:       "ioc",
			Username:       "default",
			Compression:    "lz4",
			DialTimeout:    5 * time.Second,
			QueryTimeout:   30 * time.Second,
			MigrateOnStart: true,
		},
		MQTT: MQTT{
			Broker:               "tcp://127.0.0.1:1883",
			ClientID:             "ioc-ingest",
			KeepAlive:            30 * time.Second,
			ConnectTimeout:       10 * time.Second,
			MaxReconnectInterval: 30 * time.Second,
		},
		Ingest: Ingest{
			Topics: []Topic{
				{Pattern: "province/+/+/+", Format: "json", QoS: 1, DeviceLevel: 4},
				{Pattern: "senml/#", Format: "senml", QoS: 1, DeviceLevel: 2},
				{Pattern: "v3/+/devices/+/up", Format: "ttn", QoS: 1, DeviceLevel: 4},
				{Pattern: "frigate/events", Format: "frigate", QoS: 1},
			},
			MaxPayloadBytes:        256 << 10,
			MaxFutureSkew:          5 * time.Minute,
			MaxAge:                 30 * 24 * time.Hour,
			DeadLetterPayloadBytes: 4 << 10,
			UnitAliases:            map[string]string{},
			Profiles: map[string]Profile{
				"weather-lorawan": {Values: []FieldMap{
					{Field: "temperature", Metric: "air_temperature", Unit: "Cel"},
					{Field: "humidity", Metric: "humidity", Unit: "%RH"},
					{Field: "pressure", Metric: "pressure", Unit: "hPa"},
					{Field: "wind", Metric: "wind_speed", Unit: "m/s"},
					{Field: "battery", Metric: "battery", Unit: "%"},
				}},
				"rain-lorawan": {Values: []FieldMap{
					{Field: "rain_mm", Metric: "rainfall", Unit: "mm"},
					{Field: "battery", Metric: "battery", Unit: "%"},
				}},
			},
		},
		Writer: Writer{
			BatchSize:        100000,
			FlushInterval:    250 * time.Millisecond,
			QueueSize:        100000,
			MaxRetryInterval: 10 * time.Second,
			ShutdownTimeout:  15 * time.Second,
			Spool: Spool{
				Dir:           ".data/spool",
				MaxBytes:      2 << 30,
				SegmentBytes:  64 << 20,
				Fsync:         "always",
				FsyncInterval: time.Second,
				After:         2 * time.Second,
			},
		},
		Streams: Streams{
			Mode:             "metadata",
			Transport:        "tcp",
			RequestTimeout:   10 * time.Second,
			StallTimeout:     10 * time.Second,
			Window:           5 * time.Second,
			SampleInterval:   time.Minute,
			ProbeInterval:    5 * time.Minute,
			ProbePlay:        5 * time.Second,
			DegradedShare:    0.5,
			MaxLoss:          0.05,
			StartSpread:      10 * time.Second,
			ReconnectMin:     time.Second,
			ReconnectMax:     time.Minute,
			MaxClockSkew:     5 * time.Minute,
			MetadataMaxBytes: 256 << 10,
			MediaMTX:         MediaMTX{SyncInterval: time.Minute, TokenTTL: 5 * time.Minute, ClipDownloadUnits: []string{"police"}},
		},
		Analytics: Analytics{
			MinuteRollup: true,
			Rollups: Rollups{
				Enabled:     true,
				Interval:    30 * time.Second,
				Lateness:    15 * time.Minute,
				FastMetrics: []string{"water_level", "rainfall", "salinity", "vehicle_count", "avg_speed"},
			},
			Queries: Queries{
				Timeout:       10 * time.Second,
				MaxRange:      10 * 366 * 24 * time.Hour,
				DefaultPoints: 500,
				MaxPoints:     5000,
				MaxSeries:     50,
				MaxRows:       1_000_000,
				ExportTimeout: 10 * time.Minute,
			},
			Retention: Retention{
				Readings:            90 * 24 * time.Hour,
				Readings1m:          2 * 366 * 24 * time.Hour,
				DeadLetters:         30 * 24 * time.Hour,
				CameraStatus:        366 * 24 * time.Hour,
				CameraEvents:        366 * 24 * time.Hour,
				NGSILDNotifications: 90 * 24 * time.Hour,
				Interval:            6 * time.Hour,
			},
		},
		Alerts: Alerts{
			Tick:      time.Second,
			Retry:     Retry{Attempts: 5, Initial: time.Second, Max: time.Minute},
			Receivers: []Receiver{},
			Lease:     Lease{ZooKeeper: []string{}, SessionTimeout: 6 * time.Second},
			CAP: CAP{
				Sender:     "ioc.invalid",
				SenderName: "Trung tâm Giám sát, điều hành đô thị thông minh (IOC)",
				Status:     "Actual",
				Languages:  []string{"vi", "en"},
				CircleKM:   5,
				Window:     24 * time.Hour, Approval: "actual", SecondApproverFromRisk: 4,
			},
		},
		HTTP: HTTP{Listen: ":8080", RateLimit: 600, RefusedTokenLimit: 20, HSTSMaxAge: 365 * 24 * time.Hour,
			Auth: Auth{JWT: JWT{RoleClaim: "role", UnitsClaim: "units", NameClaim: "name", Refresh: time.Hour}},
			Live: Live{Flush: 10 * time.Millisecond, SensorEvery: time.Second, ClientQueue: 64, RelayFlush: 250 * time.Millisecond},
		},
		Citizen: Citizen{PhotoDir: ".data/photos", DeviceLimit: 5, DeviceWindow: 10 * time.Minute,
			MaxRequestBytes: 40 << 20, MaxPhotoBytes: 10 << 20, MaxPhotoPixels: 40_000_000},
		NGSILD: NGSILD{NotifyTo: []string{}, MaxSubscriptions: 50, Attempts: 5, Timeout: 10 * time.Second, Push: []NGSILDPush{}},
		Simulator: Simulator{
			Province:       "lao-cai",
			Interval:       10 * time.Second,
			BadShare:       0.02,
			Seed:           1,
			Cameras:        true,
			CameraBasePort: 18554,
		},
	}
}

// HasRole tells whether the process runs role.
func (c *Config) HasRole(role string) bool {
	for _, r := range c.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// SecretFromEnv reads the secret that the setting key names by its environment variable name
// (secret_env, password_env, token_env): "" when no variable is named, an error when the named
// one is unset or empty.
func SecretFromEnv(getenv func(string) string, key, name string) (string, error) {
	if name == "" {
		return "", nil
	}
	v := getenv(name)
	if v == "" {
		return "", fmt.Errorf("%s: the variable %s is unset or empty", key, name)
	}
	return v, nil
}

// Secret is a credential: it prints, logs and marshals as "[redacted]" so that it never leaks
// into logs, errors or API answers. Value gives the real string to the code that needs it.
type Secret string

const redacted = "[redacted]"

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// String hides the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// LogValue hides the secret from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText hides the secret from encoders (JSON, YAML).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
