-- Public warnings waiting for people to release them (alerts.cap: an Actual message, or one of
-- a suspect alert, enters the feed only once approved), and what became of each: pending,
-- released, rejected or superseded (a newer draft of the same alert). Approvals are
-- "<actor>\t<name>\t<RFC 3339 time>". Each change is a new row with a higher version.
CREATE TABLE IF NOT EXISTS cap_drafts (
    identifier  String,
    version     UInt64,
    alert_id    String,
    seq         UInt32,
    msg_type    LowCardinality(String),
    state       LowCardinality(String),
    created     DateTime('UTC'),
    risk_level  UInt8,
    suspect     UInt8,
    needed      UInt8,
    approvals   Array(String),
    decided_by  String,
    reason      String,
    xml         String
) ENGINE = ReplacingMergeTree(version)
ORDER BY identifier;
