-- The district heatmap counts the distinct sensors of each district and hour over the rows of
-- every source (their union: two ingest processes each count part of a district's sensors).
-- Reading the sensors' names for it took 50 of the heatmap's 60 ms on 100 million readings:
-- a 64-bit hash of each name, computed by ClickHouse at insert, is read instead (a collision
-- among a district's sensors has a chance of about n²/2⁶⁵). Parts written before this column
-- compute it from the names when read, until a merge writes it. A DEFAULT, not MATERIALIZED:
-- on 18.16 an insert through a Distributed table (several shards) refuses a MATERIALIZED
-- column ("Cannot insert column … because it is MATERIALIZED column").
ALTER TABLE district_1h ADD COLUMN sensor_hashes Array(UInt64) DEFAULT arrayMap(s -> cityHash64(s), sensors);
