-- NGSI-LD subscriptions (POST /ngsi-ld/v1/subscriptions): each change is a new row of the
-- subscription's id with a higher version, FINAL reads the latest; a deleted one keeps a row
-- with deleted = 1. doc is the subscription as its owner made it (JSON), scope the owner's
-- entity types and districts when it was made.
CREATE TABLE IF NOT EXISTS ngsild_subscriptions (
    id        String,
    version   UInt64,
    owner     String,
    created   DateTime('UTC'),
    deleted   UInt8,
    doc       String,
    scope     String
) ENGINE = ReplacingMergeTree(version)
ORDER BY id;

-- The delivery log of the NGSI-LD notifications and of the pushes to other brokers: one row
-- per attempt (ok, retry or failed), with the answer's status or the error. A delivered row's
-- through (Unix milliseconds) is when every change of the target up to it had been delivered:
-- where a restarted process, or the one that takes over, takes up the target's changes.
CREATE TABLE IF NOT EXISTS ngsild_notifications (
    ts            DateTime('UTC'),
    ms            UInt16,
    target        String,
    owner         String,
    notification  String,
    entities      UInt32,
    attempt       UInt16,
    status        LowCardinality(String),
    code          UInt16,
    error         String,
    through       UInt64
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (target, ts, ms, notification, attempt);
