package alerts

import (
	"fmt"
	"strings"
	"time"
)

// kindWords say what an event means to the person reading a message.
var kindWords = map[string]map[EventKind]string{
	"vi": {EventFiring: "CẢNH BÁO", EventUpdated: "CẬP NHẬT", EventEscalated: "CHUYỂN CẤP – CHƯA AI XÁC NHẬN", EventResolved: "ĐÃ KẾT THÚC"},
	"en": {EventFiring: "ALERT", EventUpdated: "UPDATE", EventEscalated: "ESCALATED – NOT ACKNOWLEDGED", EventResolved: "RESOLVED"},
}

// Subject is a one-line summary of a message: its worst alert's title, and how many more.
func Subject(ns []Notification, lang string) string {
	worst := &ns[0]
	for i := range ns {
		if ns[i].Event.Alert.Severity.Rank() > worst.Event.Alert.Severity.Rank() {
			worst = &ns[i]
		}
	}
	a := &worst.Event.Alert
	s := fmt.Sprintf("[%s] %s: %s", severityWord(a.Severity, lang), kindWords[langOf(lang)][worst.Event.Kind], a.Title.Lang(lang))
	if len(ns) > 1 {
		if lang == "en" {
			s += fmt.Sprintf(" (and %d more)", len(ns)-1)
		} else {
			s += fmt.Sprintf(" (và %d cảnh báo khác)", len(ns)-1)
		}
	}
	return s
}

// MessageText is the plain text of a message: one paragraph per notification, times in
// Asia/Ho_Chi_Minh.
func MessageText(ns []Notification, lang string) string {
	var b strings.Builder
	for i := range ns {
		e := &ns[i].Event
		a := &e.Alert
		if i > 0 {
			b.WriteString("\n\n")
		}
		fmt.Fprintf(&b, "%s – %s: %s\n", kindWords[langOf(lang)][e.Kind], severityWord(a.Severity, lang), a.Title.Lang(lang))
		if d := a.Description.Lang(lang); d != "" {
			b.WriteString(d + "\n")
		}
		if lang == "en" {
			fmt.Fprintf(&b, "Where: %s, %s\nWhen: %s (Vietnam time)\nAlert: %s (%s)", a.SubjectName, a.District, LocalTime(e.Time), a.ID, a.Rule)
		} else {
			fmt.Fprintf(&b, "Địa điểm: %s, %s\nThời gian: %s (giờ Việt Nam)\nMã cảnh báo: %s (%s)", a.SubjectName, a.District, LocalTime(e.Time), a.ID, a.Rule)
		}
		if a.RiskLevel > 0 {
			if lang == "en" {
				fmt.Fprintf(&b, "\nDisaster risk level: %d", a.RiskLevel)
			} else {
				fmt.Fprintf(&b, "\nCấp độ rủi ro thiên tai: %d", a.RiskLevel)
			}
		}
		if e.Kind == EventEscalated || e.Kind == EventResolved {
			b.WriteString("\n" + e.ReasonIn(lang))
		}
	}
	return b.String()
}

// LocalTime is how messages, reports and errors show a time: hour and date in
// Asia/Ho_Chi_Minh.
func LocalTime(t time.Time) string { return t.In(Local).Format("15:04 02/01/2006") }

func langOf(lang string) string {
	if lang == "en" {
		return "en"
	}
	return "vi"
}

func severityWord(s Severity, lang string) string {
	if lang == "en" {
		return strings.ToUpper(string(s))
	}
	return strings.ToUpper(s.Vietnamese())
}
