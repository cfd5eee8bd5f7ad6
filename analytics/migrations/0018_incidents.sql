-- Incidents (sự cố): every change of every incident (opened, an alert joined or changed, the
-- severity, state and owner, a note, a step of its response procedure ticked or overdue),
-- append-only, each row carrying the timeline entry and the incident as it is after it (JSON).
-- The process leading the alert engine restores the open incidents from the latest row of each;
-- the history searches them. ReplacingMergeTree on (incident_id, seq): an insert retried after a
-- lost answer is one row.
CREATE TABLE IF NOT EXISTS incident_events (
    ts            DateTime('UTC'),
    ms            UInt16,
    incident_id   String,
    seq           UInt32,
    term          UInt64,
    kind          String,
    actor         String,
    type          String,
    state         String,
    severity      String,
    category      String,
    opened        DateTime('UTC'),
    districts     Array(String),
    units         Array(String),
    entry         String,
    incident      String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (incident_id, seq);

-- A handover lists the incidents open at that moment, as JSON (like its alerts).
ALTER TABLE duty_handovers ADD COLUMN incidents String DEFAULT '';
