-- Every accepted reading, one row per sensor, metric and time. Times are UTC, to the second.
CREATE TABLE IF NOT EXISTS readings (
    ts          DateTime('UTC'),
    sensor_id   LowCardinality(String),
    metric      LowCardinality(String),
    value       Float64,
    unit        LowCardinality(String),
    quality     LowCardinality(String),
    ingest_time DateTime('UTC'),
    topic       LowCardinality(String)
) ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (sensor_id, metric, ts);

-- Every rejected payload or record, with the reason and a bounded copy of its bytes.
CREATE TABLE IF NOT EXISTS dead_letters (
    ts           DateTime('UTC'),
    source       LowCardinality(String),
    topic        String,
    reason       LowCardinality(String),
    detail       String,
    payload      String,
    payload_size UInt32
) ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (reason, ts);
