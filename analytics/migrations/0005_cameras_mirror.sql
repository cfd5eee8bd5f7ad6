-- The camera catalog, mirrored at every start so that analysts (and camera uptime by district)
-- can join on it, like sensors. No URL and no credential is stored. cameras_current is the
-- catalog as loaded last.
CREATE TABLE IF NOT EXISTS cameras (
    id          String,
    name        String,
    district    String,
    commune     String,
    purpose     LowCardinality(String),
    owner_unit  LowCardinality(String),
    lat         Float64,
    lon         Float64,
    mode        LowCardinality(String),
    deleted     UInt8,
    version     UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY id;

CREATE VIEW IF NOT EXISTS cameras_current AS
SELECT id, name, district, commune, purpose, owner_unit, lat, lon, mode
FROM cameras FINAL
WHERE deleted = 0;
