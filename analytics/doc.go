// Package analytics owns everything stored in ClickHouse: the connection, the versioned schema
// migrations, and the batched writer that stores readings and dead letters column by column
// and acknowledges their messages once stored. Its SQL runs unchanged on Debian's ClickHouse
// 18.16 and on current releases (see ../shared/DESIGN.md): inserts name their columns, no
// DateTime64 or TTL, LowCardinality created with allow_experimental_low_cardinality_type.
package analytics
