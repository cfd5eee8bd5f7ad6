package alerts

import (
	"encoding/xml"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
)

// CAP message types this feed sends: the first message of an alert, its changes, and its end.
const (
	CAPAlert  = "Alert"
	CAPUpdate = "Update"
	CAPCancel = "Cancel"
)

// CAPMessage is one CAP 1.2 alert message, its fields in the schema's order (encoding/xml
// writes them as declared, and the schema wants a sequence).
type CAPMessage struct {
	XMLName    xml.Name  `xml:"urn:oasis:names:tc:emergency:cap:1.2 alert"`
	Identifier string    `xml:"identifier"`
	Sender     string    `xml:"sender"`
	Sent       string    `xml:"sent"`
	Status     string    `xml:"status"`
	MsgType    string    `xml:"msgType"`
	Source     string    `xml:"source,omitempty"`
	Scope      string    `xml:"scope"`
	Note       string    `xml:"note,omitempty"`
	References string    `xml:"references,omitempty"`
	Incidents  string    `xml:"incidents,omitempty"`
	Info       []CAPInfo `xml:"info"`
}

// CAPInfo is one language's block of a message.
type CAPInfo struct {
	Language     string     `xml:"language"`
	Category     []string   `xml:"category"`
	Event        string     `xml:"event"`
	ResponseType []string   `xml:"responseType,omitempty"`
	Urgency      string     `xml:"urgency"`
	Severity     string     `xml:"severity"`
	Certainty    string     `xml:"certainty"`
	Effective    string     `xml:"effective,omitempty"`
	Onset        string     `xml:"onset,omitempty"`
	Expires      string     `xml:"expires,omitempty"`
	SenderName   string     `xml:"senderName,omitempty"`
	Headline     string     `xml:"headline,omitempty"`
	Description  string     `xml:"description,omitempty"`
	Instruction  string     `xml:"instruction,omitempty"`
	Web          string     `xml:"web,omitempty"`
	Contact      string     `xml:"contact,omitempty"`
	Parameter    []CAPValue `xml:"parameter,omitempty"`
	Area         []CAPArea  `xml:"area"`
}

// CAPValue is a valueName/value pair (parameter, geocode).
type CAPValue struct {
	ValueName string `xml:"valueName"`
	Value     string `xml:"value"`
}

// CAPArea is where a warning applies.
type CAPArea struct {
	AreaDesc string     `xml:"areaDesc"`
	Polygon  []string   `xml:"polygon,omitempty"`
	Circle   []string   `xml:"circle,omitempty"`
	Geocode  []CAPValue `xml:"geocode,omitempty"`
}

// capTime formats t as CAP wants it: seconds, with a numeric offset, never "Z" (the schema's
// pattern refuses it). Times go out in Asia/Ho_Chi_Minh (+07:00), as people here read them.
func capTime(t time.Time) string { return t.In(Local).Format("2006-01-02T15:04:05-07:00") }

// capReference is one entry of a message's references: sender,identifier,sent.
func capReference(m *CAPMessage) string { return m.Sender + "," + m.Identifier + "," + m.Sent }

// capCategory maps an alert's category and sub-category to the CAP category.
func capCategory(a *Alert) string {
	switch a.SubCategory {
	case "flood", "heavy":
		return "Met"
	case "landslide":
		return "Geo"
	case "saltwater", "water":
		return "Env"
	case "fire":
		return "Fire"
	}
	switch a.Category {
	case "traffic":
		return "Transport"
	case "weather":
		return "Met"
	case "naturalDisaster":
		return "Geo"
	case "environment", "agriculture":
		return "Env"
	case "health":
		return "Health"
	case "security":
		return "Security"
	case "infrastructure":
		return "Infra"
	case "fireAndEmergency":
		return "Fire"
	}
	return "Other"
}

// capEvents name the hazard of a sub-category in Vietnamese and English (CAP event).
var capEvents = map[string]Text{
	"flood":     {VI: "Lũ, ngập lụt", EN: "Flood"},
	"heavy":     {VI: "Mưa lớn", EN: "Heavy rain"},
	"landslide": {VI: "Lũ quét, sạt lở đất", EN: "Flash flood and landslide"},
	"saltwater": {VI: "Xâm nhập mặn", EN: "Saltwater intrusion"},
	"water":     {VI: "Chất lượng nước", EN: "Water quality"},
	"fire":      {VI: "Cháy", EN: "Fire"},
}

// capEvent names the alert's hazard in lang: its sub-category's name, else its category's.
func capEvent(a *Alert, lang string) string {
	if t, ok := capEvents[a.SubCategory]; ok {
		return t.Lang(lang)
	}
	if lang == "vi" {
		if name, ok := Categories[a.Category]; ok {
			return name
		}
	}
	if a.SubCategory != "" {
		return a.SubCategory
	}
	return a.Category
}

// capIdentifier names the message of one alert event; CAP forbids spaces, commas, < and &
// in it, and the alert id is hex.
func capIdentifier(sender string, a *Alert) string {
	return fmt.Sprintf("%s.%s.%d", sender, a.ID, a.Seq)
}

// buildCAP makes the CAP message of an alert event of msgType, referencing the alert's earlier
// messages (refs, oldest first). district is the alert's district from the sensor catalog, or
// nil.
func buildCAP(cfg config.CAP, msgType string, a *Alert, at time.Time, refs []*CAPMessage, district *ingest.District) *CAPMessage {
	m := &CAPMessage{
		Identifier: capIdentifier(cfg.Sender, a),
		Sender:     cfg.Sender,
		Sent:       capTime(at),
		Status:     cfg.Status,
		MsgType:    msgType,
		Source:     "Hải Đăng IOC, rule " + a.Rule,
		Scope:      "Public",
		Incidents:  a.ID,
	}
	if len(refs) > 0 {
		rs := make([]string, len(refs))
		for i, r := range refs {
			rs[i] = capReference(r)
		}
		m.References = strings.Join(rs, " ")
	}
	if cfg.Status != "Actual" {
		m.Note = "Tin diễn tập / thử nghiệm, không phải cảnh báo thật. Exercise or test message, not a real warning."
	}
	area := capArea(cfg, a, district)
	for _, lang := range cfg.Languages {
		m.Info = append(m.Info, capInfo(cfg, msgType, a, lang, area, at))
	}
	return m
}

// capInfo is one language's block of a message sent at at; it expires the alert's validity
// (its rule's cap_expires, or its category's default) after that.
func capInfo(cfg config.CAP, msgType string, a *Alert, lang string, area CAPArea, at time.Time) CAPInfo {
	in := CAPInfo{
		Language:    map[string]string{"vi": "vi-VN", "en": "en-US"}[lang],
		Category:    []string{capCategory(a)},
		Event:       capEvent(a, lang),
		Urgency:     "Immediate",
		Severity:    a.Severity.CAP(),
		Certainty:   "Observed",
		Effective:   capTime(a.FiredAt),
		Onset:       capTime(a.StartsAt),
		Expires:     capTime(at.Add(a.capValidity())),
		SenderName:  cfg.SenderName,
		Headline:    a.Title.Lang(lang),
		Description: a.Description.Lang(lang),
		Instruction: a.Instruction.Lang(lang),
		Web:         cfg.Web,
		Contact:     cfg.Contact,
		Area:        []CAPArea{area},
	}
	if a.FiredAt.IsZero() {
		in.Effective = ""
	}
	switch {
	case msgType == CAPCancel:
		in.ResponseType, in.Urgency, in.Instruction = []string{"AllClear"}, "Past", ""
		ended := map[string]string{"vi": "Đã kết thúc: ", "en": "Ended: "}[lang]
		in.Headline = ended + in.Headline
	case a.Severity.Rank() >= SeverityHigh.Rank():
		in.ResponseType = []string{"Prepare"}
	default:
		in.ResponseType = []string{"Monitor"}
	}
	if a.RiskLevel > 0 {
		// cấp độ rủi ro thiên tai of Quyết định 18/2021/QĐ-TTg
		in.Parameter = append(in.Parameter, CAPValue{"riskLevel", strconv.Itoa(a.RiskLevel)})
	}
	if a.AlarmLevel > 0 {
		in.Parameter = append(in.Parameter, CAPValue{"alarmLevel", strconv.Itoa(a.AlarmLevel)})
	}
	if a.Metric != "" {
		in.Parameter = append(in.Parameter, CAPValue{a.Metric, coord(a.Value)})
	}
	return in
}

// capArea describes where an alert applies: its district's outline and codes from the sensor
// catalog, or, for a sensor or camera whose district has no outline, a circle around it.
func capArea(cfg config.CAP, a *Alert, d *ingest.District) CAPArea {
	var desc []string
	if a.Source != SourceDistrict && a.SubjectName != "" {
		desc = append(desc, a.SubjectName)
	}
	for _, s := range []string{a.Commune, a.District} {
		if s != "" {
			desc = append(desc, s)
		}
	}
	area := CAPArea{AreaDesc: strings.Join(desc, ", ")}
	if area.AreaDesc == "" {
		area.AreaDesc = a.Subject
	}
	if d != nil {
		if len(d.Polygon) > 0 {
			pts := make([]string, len(d.Polygon))
			for i, p := range d.Polygon {
				pts[i] = coord(p[0]) + "," + coord(p[1])
			}
			area.Polygon = []string{strings.Join(pts, " ")}
		}
		for _, k := range slices.Sorted(maps.Keys(d.Geocodes)) {
			area.Geocode = append(area.Geocode, CAPValue{k, d.Geocodes[k]})
		}
	}
	if len(area.Polygon) == 0 && a.Location.Problem() == "" {
		area.Circle = []string{coord(a.Location.Lat) + "," + coord(a.Location.Lon) + " " + coord(cfg.CircleKM)}
	}
	return area
}

// coord prints a number in the shortest form that reads back exactly, without an exponent.
func coord(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// Atom is the feed of public warnings: one entry per CAP message, linking its document.
type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Author  atomPerson  `xml:"author"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomEntry struct {
	ID       string       `xml:"id"`
	Title    string       `xml:"title"`
	Updated  string       `xml:"updated"`
	Summary  string       `xml:"summary,omitempty"`
	Category atomCategory `xml:"category"`
	Links    []atomLink   `xml:"link"`
}

type atomCategory struct {
	Term string `xml:"term,attr"`
}

// CAPPath is the path, under the feed's base, of the document of the message identifier.
func CAPPath(identifier string) string { return "/cap/" + url.PathEscape(identifier) + ".xml" }

// CAPFeedPath is the path of the Atom feed.
const CAPFeedPath = "/cap/feed.atom"

// atomTime is RFC 3339 as Atom wants it.
func atomTime(t time.Time) string { return t.In(Local).Format(time.RFC3339) }

// buildAtom makes the feed of msgs (newest first), each entry linking base+CAPPath.
// statusMark prefixes the feed's titles of messages that are not real warnings, for readers
// that show the title alone.
var statusMark = map[string]string{"Exercise": "[DIỄN TẬP / EXERCISE] ", "Test": "[THỬ NGHIỆM / TEST] "}

func buildAtom(cfg config.CAP, base string, msgs []*capEntry, now time.Time) ([]byte, error) {
	f := atomFeed{
		ID:      "urn:haidang-ioc:cap:" + url.PathEscape(cfg.Sender),
		Title:   "Cảnh báo công cộng – " + cfg.SenderName,
		Updated: atomTime(now),
		Author:  atomPerson{Name: cfg.SenderName},
		Links:   []atomLink{{Rel: "self", Type: "application/atom+xml", Href: base + CAPFeedPath}},
	}
	if len(msgs) > 0 {
		f.Updated = atomTime(msgs[0].sent)
	}
	for _, e := range msgs {
		info := e.msg.Info[0]
		f.Entries = append(f.Entries, atomEntry{
			ID:       "urn:haidang-ioc:cap:" + url.PathEscape(e.msg.Identifier),
			Title:    statusMark[e.msg.Status] + info.Headline,
			Updated:  atomTime(e.sent),
			Summary:  info.Description,
			Category: atomCategory{Term: info.Category[0]},
			Links:    []atomLink{{Rel: "alternate", Type: "application/cap+xml", Href: base + CAPPath(e.msg.Identifier)}},
		})
	}
	return xmlDocument(f, "cap feed")
}

// xmlDocument encodes v as an indented XML document with its declaration; what names it in
// errors.
func xmlDocument(v any, what string) ([]byte, error) {
	out, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return append([]byte(xml.Header), out...), nil
}
