-- Public warnings. alert_events gains the rule's instruction to the public (rendered per
-- alert), which CAP messages carry; cap_messages keeps every CAP 1.2 message the feed has
-- published (Alert, Update, Cancel), so that the feed and each message's references survive a
-- restart. ReplacingMergeTree on (alert_id, seq): a retried insert is one row.
ALTER TABLE alert_events
    ADD COLUMN instruction_vi String AFTER description_en,
    ADD COLUMN instruction_en String AFTER instruction_vi;

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
