-- Readings become a ReplacingMergeTree on (sensor_id, metric, ts): a reading delivered twice
-- (a broker redelivery after a crash, a spooled batch replayed after an insert whose answer was
-- lost) is one row for queries that read with FINAL or group by that key, and one row on disk
-- once parts merge. ingest_time is the version: the latest copy wins. Text readings (SenML vs)
-- get a column of their own. The existing rows move over.
CREATE TABLE IF NOT EXISTS readings_v2 (
    ts          DateTime('UTC'),
    sensor_id   LowCardinality(String),
    metric      LowCardinality(String),
    value       Float64,
    text        String,
    unit        LowCardinality(String),
    quality     LowCardinality(String),
    ingest_time DateTime('UTC'),
    topic       LowCardinality(String)
) ENGINE = ReplacingMergeTree(ingest_time)
PARTITION BY toYYYYMM(ts)
ORDER BY (sensor_id, metric, ts);

INSERT INTO readings_v2 (ts, sensor_id, metric, value, unit, quality, ingest_time, topic)
SELECT ts, sensor_id, metric, value, unit, quality, ingest_time, topic FROM readings;

RENAME TABLE readings TO readings_v1, readings_v2 TO readings;

DROP TABLE readings_v1;

-- The sensor catalog, mirrored at every load and reload so that analysts can join on it. Each
-- load writes every sensor with a higher version; a sensor dropped from the catalog gets a row
-- with deleted = 1. sensors_current is the catalog as loaded last.
CREATE TABLE IF NOT EXISTS sensors (
    id          String,
    name        String,
    kind        LowCardinality(String),
    district    String,
    commune     String,
    lat         Float64,
    lon         Float64,
    owner_unit  LowCardinality(String),
    metrics     Array(String),
    units       Array(String),
    alarm_i     Nullable(Float64),
    alarm_ii    Nullable(Float64),
    alarm_iii   Nullable(Float64),
    profile     String,
    interval_s  UInt32,
    deleted     UInt8,
    version     UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY id;

CREATE VIEW IF NOT EXISTS sensors_current AS
SELECT id, name, kind, district, commune, lat, lon, owner_unit, metrics, units,
       alarm_i, alarm_ii, alarm_iii, profile, interval_s
FROM sensors FINAL
WHERE deleted = 0;
