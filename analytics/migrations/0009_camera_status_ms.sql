-- Two state changes of a camera within one second are two rows: camera_status gets ms (the
-- order within the second, as camera_events has) and reason in its key. 0003's key
-- (camera_id, ts, change, state) merged a change to offline/timeout and, in the same second,
-- to offline/refused into one row, keeping only the second reason. The existing rows move over.
CREATE TABLE IF NOT EXISTS camera_status_v2 (
    ts                   DateTime('UTC'),
    ms                   UInt16,
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
ORDER BY (camera_id, ts, ms, change, state, reason);

INSERT INTO camera_status_v2 (ts, ms, camera_id, state, reason, detail, change, since, mode, codec, width, height,
    fps, bitrate_kbps, keyframe_interval_s, packets_received, packets_lost, jitter_ms, last_packet_age_s, ingest_time)
SELECT ts, 0, camera_id, state, reason, detail, change, since, mode, codec, width, height,
    fps, bitrate_kbps, keyframe_interval_s, packets_received, packets_lost, jitter_ms, last_packet_age_s, ingest_time
FROM camera_status;

RENAME TABLE camera_status TO camera_status_v1, camera_status_v2 TO camera_status;

DROP TABLE camera_status_v1;
