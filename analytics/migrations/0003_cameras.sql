-- Camera health: a row at every state change (change = 1) and every sample interval (change = 0).
-- ReplacingMergeTree on (camera_id, ts, change, state): a status replayed from the spool after an
-- insert whose answer was lost is one row once parts merge (and for FINAL queries).
CREATE TABLE IF NOT EXISTS camera_status (
    ts                   DateTime('UTC'),
    camera_id            LowCardinality(String),
    state                LowCardinality(String),
    reason               LowCardinality(String),
    detail               String,
    change               UInt8,
    since                DateTime('UTC'),
    mode                 LowCardinality(String),
    codec                LowCardinality(String),
    width                UInt16,
    height               UInt16,
    fps                  Float32,
    bitrate_kbps         Float32,
    keyframe_interval_s  Float32,
    packets_received     UInt64,
    packets_lost         UInt64,
    jitter_ms            Float32,
    last_packet_age_s    Float32,
    ingest_time          DateTime('UTC')
) ENGINE = ReplacingMergeTree(ingest_time)
PARTITION BY toYYYYMM(ts)
ORDER BY (camera_id, ts, change, state);

-- Camera analytics events: ONVIF metadata-track notifications and objects, Frigate events.
-- ts is whole seconds (DateTime runs on every server); ms keeps the order within a second.
CREATE TABLE IF NOT EXISTS camera_events (
    ts            DateTime('UTC'),
    ms            UInt16,
    camera_id     LowCardinality(String),
    source        LowCardinality(String),
    kind          LowCardinality(String),
    topic         LowCardinality(String),
    rule          String,
    state         String,
    operation     LowCardinality(String),
    object_class  LowCardinality(String),
    object_id     String,
    plate         String,
    score         Float32,
    count         Int64,
    data          String,
    ingest_time   DateTime('UTC')
) ENGINE = ReplacingMergeTree(ingest_time)
PARTITION BY toYYYYMM(ts)
ORDER BY (camera_id, ts, ms, kind, rule, object_id, state);
