package alerts

import (
	"context"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"
	"testing"

	"github.com/haidang-ioc/ioc/internal/config"
)

// An email goes through a real SMTP server (aiosmtpd): Vietnamese subject and body, the
// alert's place and id, the sender and recipients as configured, the date in Việt Nam's time.
func TestEmailSend(t *testing.T) {
	addr, dir := startMailSink(t)
	m := newEmail(config.Receiver{Name: "pctt-mail", SMTP: addr, From: "ioc@laocai.gov.vn", To: []string{"pctt@laocai.gov.vn"}, Language: "vi"}, "")
	if err := m.Send(context.Background(), testNotification()); err != nil {
		t.Fatal(err)
	}
	msg := waitMail(t, dir)
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || !strings.Contains(subject, "Lào Cai") {
		t.Errorf("subject %q (%v)", subject, err)
	}
	if msg.Header.Get("From") != "ioc@laocai.gov.vn" || !strings.Contains(msg.Header.Get("To"), "pctt@laocai.gov.vn") {
		t.Errorf("from %q, to %q", msg.Header.Get("From"), msg.Header.Get("To"))
	}
	if date := msg.Header.Get("Date"); !strings.HasSuffix(date, "+0700") {
		t.Errorf("date %q, want Việt Nam's time (+0700)", date)
	}
	if cte := msg.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
		t.Fatalf("Content-Transfer-Encoding %q, want quoted-printable", cte)
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if !strings.Contains(string(body), "Trạm thủy văn Lào Cai, TP Lào Cai") || !strings.Contains(string(body), "Mã cảnh báo: a1b2c3") ||
		!strings.Contains(string(body), "giờ Việt Nam") {
		t.Errorf("body lacks the station or the alert id:\n%s", body)
	}
}
