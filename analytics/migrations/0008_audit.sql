-- The dashboard's audit log: every change made through the API (who, what, on what, when,
-- from where, and how it ended). Rows carry the request's id, so that a retried insert is one
-- row (ReplacingMergeTree on (ts, id)).
CREATE TABLE IF NOT EXISTS audit_log (
    ts      DateTime('UTC'),
    ms      UInt16,
    id      String,
    actor   String,
    name    String,
    role    LowCardinality(String),
    action  LowCardinality(String),
    target  String,
    detail  String,
    status  UInt16,
    remote  String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (ts, id);
