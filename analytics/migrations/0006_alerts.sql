-- Alert events: every transition of every alert (pending, firing, updated, acknowledged,
-- assigned, commented, escalated, resolved), append-only, each row carrying the alert as it is
-- after the transition. The alert engine rebuilds its live alerts from the latest row of each
-- alert at start; analysts count alerts by category, unit and response time from it.
-- ReplacingMergeTree on (alert_id, seq): an insert retried after a lost answer is one row.
CREATE TABLE IF NOT EXISTS alert_events (
    ts            DateTime('UTC'),
    ms            UInt16,
    alert_id      String,
    seq           UInt32,
    kind          LowCardinality(String),
    actor         String,
    reason        String,
    fingerprint   String,
    rule          LowCardinality(String),
    source        LowCardinality(String),
    subject       String,
    subject_name  String,
    state         LowCardinality(String),
    severity      LowCardinality(String),
    risk_level    UInt8,
    alarm_level   UInt8,
    category      LowCardinality(String),
    sub_category  LowCardinality(String),
    district      String,
    commune       String,
    lat           Float64,
    lon           Float64,
    metric        LowCardinality(String),
    value         Float64,
    title_vi      String,
    title_en      String,
    description_vi String,
    description_en String,
    public        UInt8,
    units         Array(String),
    escalation    UInt8,
    assignee      String,
    muted         String,
    starts_at     DateTime('UTC'),
    fired_at      DateTime('UTC'),
    acked_at      DateTime('UTC'),
    ends_at       DateTime('UTC')
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (alert_id, seq);

-- Silences, each version a row; the newest version (updated_at) of a silence is the one in force.
CREATE TABLE IF NOT EXISTS alert_silences (
    id          String,
    matchers    String,
    starts_at   DateTime('UTC'),
    ends_at     DateTime('UTC'),
    author      String,
    reason      String,
    updated_at  DateTime('UTC'),
    updated_ms  UInt16
) ENGINE = ReplacingMergeTree
ORDER BY (id, updated_at, updated_ms);

-- The notification delivery log: one row per attempt of each notification to each receiver.
CREATE TABLE IF NOT EXISTS alert_notifications (
    ts           DateTime('UTC'),
    ms           UInt16,
    alert_id     String,
    seq          UInt32,
    kind         LowCardinality(String),
    receiver     LowCardinality(String),
    receiver_type LowCardinality(String),
    unit         LowCardinality(String),
    attempt      UInt8,
    status       LowCardinality(String),
    error        String,
    duration_ms  Float32
) ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (alert_id, seq, receiver, ts, ms);
