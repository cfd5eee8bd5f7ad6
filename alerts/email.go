package alerts

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"strings"
	"time"

	"github.com/haidang-ioc/ioc/internal/config"
)

// email sends each message as a UTF-8 plain-text mail (quoted-printable, subject RFC 2047
// encoded) through an SMTP server, with STARTTLS when the server offers it and PLAIN auth
// when a username is set.
type email struct {
	name     string
	addr     string
	from     string
	to       []string
	username string
	password string
	lang     string
}

func newEmail(rc config.Receiver, password string) *email {
	return &email{name: rc.Name, addr: rc.SMTP, from: rc.From, to: rc.To, username: rc.Username, password: password, lang: rc.Language}
}

func (m *email) Send(ctx context.Context, ns []Notification) error {
	msg := m.compose(ns, time.Now())
	host, _, _ := net.SplitHostPort(m.addr)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return fmt.Errorf("email %s: %w", m.name, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("email %s: %w", m.name, err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(nil); err != nil {
			return fmt.Errorf("email %s: starttls: %w", m.name, err)
		}
	}
	if m.username != "" {
		if err := c.Auth(smtp.PlainAuth("", m.username, m.password, host)); err != nil {
			return fmt.Errorf("email %s: auth: %w", m.name, ErrPermanent)
		}
	}
	if err := c.Mail(m.from); err != nil {
		return fmt.Errorf("email %s: MAIL FROM: %w", m.name, err)
	}
	for _, rcpt := range m.to {
		if err := c.Rcpt(rcpt); err != nil {
			return fmt.Errorf("email %s: RCPT TO %s: %w", m.name, rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("email %s: DATA: %w", m.name, err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("email %s: %w", m.name, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("email %s: %w", m.name, err)
	}
	return c.Quit()
}

// compose writes the mail: headers, then the message text in quoted-printable.
func (m *email) compose(ns []Notification, now time.Time) []byte {
	var b bytes.Buffer
	key := IdempotencyKey(ns)
	host := m.from[strings.LastIndexByte(m.from, '@')+1:]
	fmt.Fprintf(&b, "From: %s\r\n", m.from)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(m.to, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", Subject(ns, m.lang)))
	fmt.Fprintf(&b, "Date: %s\r\n", now.In(Local).Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", key, host)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(MessageText(ns, m.lang), "\n", "\r\n")))
	_ = qp.Close()
	b.WriteString("\r\n")
	return b.Bytes()
}
