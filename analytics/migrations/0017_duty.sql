-- The operations floor's duty log (nhật ký ca trực): what the duty officers write during a
-- shift, append-only, and the shift handovers (bàn giao ca): the outgoing officer's notes and
-- the unacknowledged alerts at that moment, then the incoming officer's acceptance. A handover
-- is a row per change with a higher version; FINAL reads the latest. Times to the millisecond
-- as ts + ms (18.16 has no DateTime64).
CREATE TABLE IF NOT EXISTS duty_log (
    ts          DateTime('UTC'),
    ms          UInt16,
    id          String,
    author_id   String,
    author      String,
    text        String
) ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (ts, ms, id);

CREATE TABLE IF NOT EXISTS duty_handovers (
    id              String,
    version         UInt64,
    created         DateTime('UTC'),
    created_ms      UInt16,
    outgoing_id     String,
    outgoing        String,
    notes           String,
    alerts          String,
    accepted        DateTime('UTC'),
    accepted_ms     UInt16,
    incoming_id     String,
    incoming        String,
    incoming_note   String
) ENGINE = ReplacingMergeTree(version)
ORDER BY id;
