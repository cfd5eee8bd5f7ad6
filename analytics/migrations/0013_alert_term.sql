-- The alert leader's term (issue: several ioc processes, one alert engine elected by a lease in
-- ZooKeeper): every transition carries the term of the engine that made it, so that a history
-- shows which leader wrote what; a single engine writes 0.
ALTER TABLE alert_events ADD COLUMN term UInt64 AFTER seq;
