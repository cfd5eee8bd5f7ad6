// Package analytics owns everything stored in ClickHouse: the connection and the versioned
// schema migrations (Schema applies them, at start or once a ClickHouse that was down answers),
// the batched writer that stores readings, dead letters and camera rows column by column and
// acknowledges their messages once stored or in the disk spool, the spool and its replay, the
// catalogs' mirrors, the rollups, the bounded query layer (trends, comparisons, districts,
// latest values, camera uptime, dead-letter summaries), CSV exports and retention.
//
// Its SQL runs unchanged on Debian's ClickHouse 18.16 and on current releases: inserts name
// their columns and go through a batch (an INSERT ... VALUES by Exec never returns against
// 18.16), no DateTime64, TTL, toStartOfInterval or WITH FILL, time buckets with intDiv,
// LowCardinality created with allow_experimental_low_cardinality_type (docs/OPERATIONS.md,
// "ClickHouse: one SQL for Debian's 18.16 and current releases").
package analytics
