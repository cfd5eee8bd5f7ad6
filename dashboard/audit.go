package dashboard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/internal/outbox"
)

// AuditEntry is one change made through the API (analytics.AuditEntry).
type AuditEntry = analytics.AuditEntry

// Auditor keeps the audit log in ClickHouse (table audit_log). Entries go through an outbox:
// a change is never held up by ClickHouse, and entries wait in memory (up to 100,000) while it
// is away.
type Auditor struct {
	store *analytics.AuditLog
	out   *outbox.Outbox[AuditEntry]
}

// NewAuditor builds the audit log on conn.
func NewAuditor(conn driver.Conn, timeout time.Duration, reg prometheus.Registerer, log *slog.Logger) *Auditor {
	a := &Auditor{store: &analytics.AuditLog{Conn: conn, Timeout: timeout}}
	m := outbox.NewMetrics(reg, "ioc_audit", "ioc_audit_rows_total", "Audit log entries")
	a.out = outbox.New("audit_log", 100_000, a.write, m, log.With("component", "audit"))
	return a
}

// Run writes the log until ctx ends, then for up to 5 more seconds.
func (a *Auditor) Run(ctx context.Context) error {
	a.out.Run(ctx, 5*time.Second)
	return nil
}

// Record queues an entry; it never blocks.
func (a *Auditor) Record(e AuditEntry) {
	if e.ID == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		e.ID = hex.EncodeToString(b)
	}
	a.out.Add(e)
}

func (a *Auditor) write(ctx context.Context, rows []AuditEntry) error {
	return a.store.Append(ctx, rows)
}

// List returns the entries of [from, to), newest first, at most limit after offset, and how
// many there are; actor and action narrow it when set.
func (a *Auditor) List(ctx context.Context, from, to time.Time, actor, action string, limit, offset int) ([]AuditEntry, int, error) {
	return a.store.List(ctx, from, to, actor, action, limit, offset)
}

const maxAuditOffset = 1_000_000

var auditParams = []param{
	{name: "from", typ: "date-time", desc: "start (RFC 3339), default 7 days ago"},
	{name: "to", typ: "date-time", desc: "end (RFC 3339), default now"},
	{name: "actor", typ: "string", desc: "only this caller's changes (key:<id> or jwt:<subject>)"},
	{name: "action", typ: "string", desc: "only this action"},
	pageParams[0], pageParams[1], // limit, offset: newest first, no other order
}

func (s *Server) listAudit(c *fiber.Ctx, _ *auth.Principal) error {
	if s.src.Audit == nil {
		return errUnavailable
	}
	now := time.Now().UTC()
	from, to, err := queryRange(c, now.Add(time.Minute), 7*24*time.Hour+time.Minute)
	if err != nil {
		return err
	}
	limit, offset, err := pageWindow(c)
	if err != nil {
		return err
	}
	if offset > maxAuditOffset { // ClickHouse reads every skipped row
		return errBadRequest("bad_parameter", fmt.Sprintf("offset=%d: want at most %d; narrow from and to instead", offset, maxAuditOffset))
	}
	items, total, err := s.src.Audit.List(c.UserContext(), from, to, c.Query("actor"), c.Query("action"), limit, offset)
	if err != nil {
		return err
	}
	return c.JSON(Page[AuditEntry]{Items: items, Total: total, Limit: limit, Offset: offset})
}
