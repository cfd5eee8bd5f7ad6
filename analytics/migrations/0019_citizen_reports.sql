-- Citizen reports (phản ánh hiện trường): every change of every report (received, then, as
-- the agency handles it, its state, answer and units), append-only, each row carrying the
-- report as it is after it (JSON: photos by content hash; the contact is the agency's, never
-- published). client_key finds a resubmission (the app, the device and the app's id of the
-- report, hashed); ticket is the citizen's. ReplacingMergeTree on (report_id, seq): an insert
-- retried after a lost answer is one row.
CREATE TABLE IF NOT EXISTS citizen_report_events (
    ts            DateTime('UTC'),
    ms            UInt16,
    report_id     String,
    seq           UInt32,
    kind          String,
    actor         String,
    ticket        String,
    client_key    String,
    category      String,
    state         String,
    district      String,
    commune       String,
    lat           Float64,
    lon           Float64,
    received      DateTime('UTC'),
    units         Array(String),
    photos        Array(String),
    report        String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (report_id, seq);
