// Package brokeracl keeps the MQTT broker's accounts and access control in step with the
// sensor catalog, through Mosquitto 2's dynamic security plugin: each sensor is a client of
// its own (username = sensor id) that may publish only on the topics naming it, ioc's account
// may only subscribe to the topics it reads and use its own (the claims of its client ids, its
// live relay), and gateways (an NVR, a vendor's gateway) may
// publish only on the topics that name no device. It never touches an account it did not make.
package brokeracl

import (
	"slices"
	"strings"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
)

// Marker starts the text name of every client and role sync manages; others are left alone.
const Marker = "ioc broker sync: "

// ACL is one rule of a role, in the plugin's terms.
type ACL struct {
	Type  string `json:"acltype"`
	Topic string `json:"topic"`
	Allow bool   `json:"allow"`
}

// ACL types of the plugin.
const (
	PublishSend      = "publishClientSend"
	SubscribePattern = "subscribePattern"
)

// Role is a named set of rules.
type Role struct {
	Name string
	ACLs []ACL
}

// Account is a client of the plugin: who connects, and the one role it holds.
type Account struct {
	Username string
	Text     string // what it is, after Marker
	Role     string
	// Password, when known (ioc's own, from its config), is set when the account is made or
	// rotated, instead of a new random one.
	Password string
}

// Plan is the access control the catalog and config call for.
type Plan struct {
	Roles    []Role
	Accounts []Account
}

// Names of the roles sync makes: one per device, and the shared ones.
const (
	rolePrefix  = "ioc-"
	ingestRole  = rolePrefix + "ingest"
	gatewayRole = rolePrefix + "gateway"
)

// DeviceRole is the role of device id.
func DeviceRole(id string) string { return rolePrefix + "device-" + id }

// NewPlan derives the plan from the catalog's sensors, the ingest topics (which levels name
// devices), the live relay's topic root (http.live.relay, "" when off), ioc's own account
// (username and, when set, password) and the gateways' usernames.
func NewPlan(cat *ingest.Catalog, ic config.Ingest, relay, iocUser, iocPassword string, gateways []string) Plan {
	var p Plan
	var deviceTopics, otherTopics []config.Topic
	for _, t := range ic.Topics {
		if t.DeviceLevel > 0 {
			deviceTopics = append(deviceTopics, t)
		} else {
			otherTopics = append(otherTopics, t)
		}
	}
	for _, s := range cat.Sensors {
		role := Role{Name: DeviceRole(s.ID)}
		for _, t := range deviceTopics {
			role.ACLs = append(role.ACLs, ACL{Type: PublishSend, Topic: DeviceFilter(t.Pattern, t.DeviceLevel, s.ID), Allow: true})
		}
		p.Roles = append(p.Roles, role)
		p.Accounts = append(p.Accounts, Account{Username: s.ID, Text: "sensor " + s.Name, Role: role.Name})
	}
	ingestACLs := make([]ACL, 0, 2*len(ic.Topics))
	for _, t := range ic.Topics {
		ingestACLs = append(ingestACLs, ACL{Type: SubscribePattern, Topic: t.Pattern, Allow: true})
		if ic.SharedGroup != "" {
			ingestACLs = append(ingestACLs, ACL{Type: SubscribePattern, Topic: ingest.SubscriptionFilter(ic.SharedGroup, t.Pattern), Allow: true})
		}
	}
	// ioc's own topics, which no device may use: the claims of its client ids, and the
	// processes' live relay.
	own := []string{ingest.ClaimRoot + "/#"}
	if relay != "" {
		own = append(own, relay+"/#")
	}
	for _, t := range own {
		ingestACLs = append(ingestACLs, ACL{Type: SubscribePattern, Topic: t, Allow: true}, ACL{Type: PublishSend, Topic: t, Allow: true})
	}
	text := "ioc ingest (subscribes; publishes only under " + strings.Join(own, ", ") + ")"
	p.Roles = append(p.Roles, Role{Name: ingestRole, ACLs: ingestACLs})
	p.Accounts = append(p.Accounts, Account{Username: iocUser, Text: text, Role: ingestRole, Password: iocPassword})
	if len(gateways) > 0 && len(otherTopics) > 0 {
		gw := Role{Name: gatewayRole}
		for _, t := range otherTopics {
			gw.ACLs = append(gw.ACLs, ACL{Type: PublishSend, Topic: t.Pattern, Allow: true})
		}
		p.Roles = append(p.Roles, gw)
		for _, g := range gateways {
			p.Accounts = append(p.Accounts, Account{Username: g, Text: "gateway (topics naming no device)", Role: gatewayRole})
		}
	}
	slices.SortFunc(p.Roles, func(a, b Role) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(p.Accounts, func(a, b Account) int { return strings.Compare(a.Username, b.Username) })
	return p
}

// DeviceFilter is pattern with its device level set to id: the topics device id may publish
// on. A device level of # becomes id/# (which also matches the bare id level).
func DeviceFilter(pattern string, level int, id string) string {
	levels := strings.Split(pattern, "/")
	if levels[level-1] == "#" {
		levels = append(levels[:level-1], id, "#")
	} else {
		levels[level-1] = id
	}
	return strings.Join(levels, "/")
}
