-- Rollups: 1-minute and 1-hour aggregates per sensor and metric, and hourly aggregates per
-- district and metric, kept by materialized views as readings arrive. Read them with the
-- -Merge functions (countMerge(n), avgMerge(avg_v), argMaxMerge(last_v), quantileTDigestMerge(0.95)(p95_v)).
-- Text readings (SenML vs) are not aggregated. Buckets are whole minutes / hours in UTC,
-- computed with intDiv so that the same SQL runs on ClickHouse 18.16 and current servers.
--
-- Granules of 256 rows, not 8192: a trend reads a few hundred buckets of one sensor, and every
-- row of a granule read is an aggregate state to deserialize (8192-row granules made a 30-day
-- trend ten times slower than the raw table). p95 is a t-digest: 9 bytes for one value where
-- the reservoir sampler of quantile() takes 53, bounded for many, and it merges.
--
-- A reading stored twice (a redelivery after a crash) is counted twice here until the range is
-- rebuilt from the deduplicated raw table: `ioc migrate --backfill` does that.
CREATE TABLE IF NOT EXISTS readings_1m (
    bucket     DateTime('UTC'),
    sensor_id  LowCardinality(String),
    metric     LowCardinality(String),
    n          AggregateFunction(count),
    min_v      AggregateFunction(min, Float64),
    max_v      AggregateFunction(max, Float64),
    avg_v      AggregateFunction(avg, Float64),
    sum_v      AggregateFunction(sum, Float64),
    last_v     AggregateFunction(argMax, Float64, DateTime('UTC')),
    p95_v      AggregateFunction(quantileTDigest(0.95), Float64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (sensor_id, metric, bucket)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS readings_1m_mv TO readings_1m AS
SELECT toDateTime(intDiv(toUInt32(ts), 60) * 60, 'UTC') AS bucket, sensor_id, metric,
       countState() AS n, minState(value) AS min_v, maxState(value) AS max_v, avgState(value) AS avg_v,
       sumState(value) AS sum_v, argMaxState(value, ts) AS last_v, quantileTDigestState(0.95)(value) AS p95_v
FROM readings
WHERE text = ''
GROUP BY bucket, sensor_id, metric;

CREATE TABLE IF NOT EXISTS readings_1h (
    bucket     DateTime('UTC'),
    sensor_id  LowCardinality(String),
    metric     LowCardinality(String),
    n          AggregateFunction(count),
    min_v      AggregateFunction(min, Float64),
    max_v      AggregateFunction(max, Float64),
    avg_v      AggregateFunction(avg, Float64),
    sum_v      AggregateFunction(sum, Float64),
    last_v     AggregateFunction(argMax, Float64, DateTime('UTC')),
    p95_v      AggregateFunction(quantileTDigest(0.95), Float64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (sensor_id, metric, bucket)
SETTINGS index_granularity = 256;

-- The hourly rollup reads the raw readings too: ClickHouse 18.16 does not cascade a view's
-- inserts into the views of its target table.
CREATE MATERIALIZED VIEW IF NOT EXISTS readings_1h_mv TO readings_1h AS
SELECT toDateTime(intDiv(toUInt32(ts), 3600) * 3600, 'UTC') AS bucket, sensor_id, metric,
       countState() AS n, minState(value) AS min_v, maxState(value) AS max_v, avgState(value) AS avg_v,
       sumState(value) AS sum_v, argMaxState(value, ts) AS last_v, quantileTDigestState(0.95)(value) AS p95_v
FROM readings
WHERE text = ''
GROUP BY bucket, sensor_id, metric;

-- Every table is partitioned by month, so that retention and backfill work in whole months.
-- Per district: the district comes from the sensor catalog's mirror at insert time; readings of
-- sensors missing from it are not counted here.
CREATE TABLE IF NOT EXISTS district_1h (
    bucket     DateTime('UTC'),
    district   String,
    metric     LowCardinality(String),
    sensors    AggregateFunction(uniq, String),
    n          AggregateFunction(count),
    min_v      AggregateFunction(min, Float64),
    max_v      AggregateFunction(max, Float64),
    avg_v      AggregateFunction(avg, Float64),
    sum_v      AggregateFunction(sum, Float64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (district, metric, bucket)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS district_1h_mv TO district_1h AS
SELECT toDateTime(intDiv(toUInt32(ts), 3600) * 3600, 'UTC') AS bucket, district, metric,
       uniqState(toString(sensor_id)) AS sensors, countState() AS n, minState(value) AS min_v,
       maxState(value) AS max_v, avgState(value) AS avg_v, sumState(value) AS sum_v
FROM readings
ANY INNER JOIN (SELECT id AS sensor_id, district FROM sensors FINAL WHERE deleted = 0) USING sensor_id
WHERE text = ''
GROUP BY bucket, district, metric;
