-- The engine's reasons for a transition (a level crossed, a condition ended, an escalation)
-- are written in Vietnamese (reason) and English (reason_en), so that the console shows each
-- in the operator's language; a person's words stay in reason alone.
ALTER TABLE alert_events ADD COLUMN reason_en String AFTER reason;
