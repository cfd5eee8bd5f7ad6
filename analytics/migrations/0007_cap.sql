-- Alert events, narrower; and the public warnings.
--
-- 0006's alert_events had a column for every field of the alert (41). ClickHouse 18.16 writes a
-- pair of files per column for every insert, so storing one event took ~35 ms on an idle 2-core
-- machine and 140 ms at p99 under 20,000 readings/s: most of an alert's way from reading to
-- stored event (docs/BENCHMARKS.md). Events now keep the columns analysts filter and group by,
-- and the whole alert after the transition as one JSON document (`alert`; visitParamExtract*
-- reads it on every server). 0006's rows stay in alert_events_0006; the engine restores from
-- the new table only, so an alert open at the upgrade is forgotten by it.
RENAME TABLE alert_events TO alert_events_0006;

CREATE TABLE IF NOT EXISTS alert_events (
    ts        DateTime('UTC'),
    ms        UInt16,
    alert_id  String,
    seq       UInt32,
    kind      LowCardinality(String),
    actor     String,
    reason    String,
    rule      LowCardinality(String),
    subject   String,
    state     LowCardinality(String),
    severity  LowCardinality(String),
    category  LowCardinality(String),
    district  String,
    units     Array(String),
    alert     String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (alert_id, seq);

-- Every CAP 1.2 message the public warning feed has published (Alert, Update, Cancel), so that
-- the feed and each message's references survive a restart. ReplacingMergeTree on
-- (alert_id, seq): a retried insert is one row.
CREATE TABLE IF NOT EXISTS cap_messages (
    sent        DateTime('UTC'),
    identifier  String,
    alert_id    String,
    seq         UInt32,
    msg_type    LowCardinality(String),
    xml         String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(sent)
ORDER BY (alert_id, seq);
