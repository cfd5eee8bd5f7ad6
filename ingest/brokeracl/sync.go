package brokeracl

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
)

// The plugin's control topics.
const (
	controlTopic  = "$CONTROL/dynamic-security/v1"
	responseTopic = controlTopic + "/response"
)

// Admin is a connection to the broker as the plugin's administrator.
type Admin struct {
	client  mqtt.Client
	timeout time.Duration

	mu      sync.Mutex // one request at a time: answers come back in order, unlabelled
	answers chan []byte
}

// Dial connects to the broker of mc (its address and TLS files) as the plugin's administrator.
func Dial(ctx context.Context, mc config.MQTT, username, password string) (*Admin, error) {
	opts, _, err := ingest.ClientOptions(mc, "ioc-broker-sync-"+token(6))
	if err != nil {
		return nil, err
	}
	a := &Admin{timeout: mc.ConnectTimeout, answers: make(chan []byte, 1)}
	opts.SetUsername(username).SetPassword(password).SetCleanSession(true).SetAutoReconnect(false).
		SetConnectTimeout(mc.ConnectTimeout)
	a.client = mqtt.NewClient(opts)
	if err := a.wait(ctx, a.client.Connect()); err != nil {
		why := ingest.ConnectProblem(err)
		if errors.Is(err, packets.ErrorRefusedNotAuthorised) || errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword) {
			why = "the broker refused the admin's credentials: mqtt.access.admin_username and the password in mqtt.access.admin_password_env"
		}
		return nil, fmt.Errorf("broker sync: connect to %s as %s: %w (%s)", mc.Broker, username, err, why)
	}
	tok := a.client.Subscribe(responseTopic, 1, func(_ mqtt.Client, m mqtt.Message) {
		select {
		case a.answers <- m.Payload():
		default: // an answer nobody waits for (a timed-out request's): dropped
		}
	})
	if err := a.wait(ctx, tok); err != nil {
		a.Close()
		return nil, fmt.Errorf("broker sync: subscribe to %s as %s: %w", responseTopic, username, err)
	}
	if st, ok := tok.(*mqtt.SubscribeToken); ok && st.Result()[responseTopic] >= 0x80 {
		a.Close()
		return nil, fmt.Errorf("broker sync: the broker refused %s the plugin's answers (%s): is it the dynamic security plugin's admin, and is the plugin loaded?", username, responseTopic)
	}
	return a, nil
}

// Close disconnects.
func (a *Admin) Close() { a.client.Disconnect(250) }

func (a *Admin) wait(ctx context.Context, tok mqtt.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(a.timeout):
		return errors.New("no answer from the broker")
	}
}

// command is one request to the plugin; the fields it does not need stay empty.
type command map[string]any

type response struct {
	Command string          `json:"command"`
	Error   string          `json:"error"`
	Data    json.RawMessage `json:"data"`
}

// do sends commands in one message and returns their answers, in order.
func (a *Admin) do(ctx context.Context, cmds []command) ([]response, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	body, err := json.Marshal(map[string]any{"commands": cmds})
	if err != nil {
		return nil, err
	}
	if err := a.wait(ctx, a.client.Publish(controlTopic, 1, false, body)); err != nil {
		return nil, fmt.Errorf("broker sync: send commands: %w", err)
	}
	select {
	case raw := <-a.answers:
		var ans struct {
			Responses []response `json:"responses"`
		}
		if err := json.Unmarshal(raw, &ans); err != nil {
			return nil, fmt.Errorf("broker sync: the plugin's answer: %w", err)
		}
		if len(ans.Responses) != len(cmds) {
			return nil, fmt.Errorf("broker sync: %d commands sent, %d answers", len(cmds), len(ans.Responses))
		}
		return ans.Responses, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(10 * time.Second):
		return nil, errors.New("broker sync: the dynamic security plugin did not answer in 10s (is it loaded? see plugin in mosquitto.conf)")
	}
}

// brokerClient and brokerRole are what the plugin lists.
type brokerClient struct {
	Username string    `json:"username"`
	Textname string    `json:"textname"`
	Roles    []roleRef `json:"roles"`
}

type roleRef struct {
	Rolename string `json:"rolename"`
}

type brokerRole struct {
	Rolename string `json:"rolename"`
	ACLs     []ACL  `json:"acls"`
}

func (a *Admin) state(ctx context.Context) (map[string]brokerClient, map[string]brokerRole, error) {
	ans, err := a.do(ctx, []command{{"command": "listClients", "verbose": true}, {"command": "listRoles", "verbose": true}})
	if err != nil {
		return nil, nil, err
	}
	for _, r := range ans {
		if r.Error != "" {
			return nil, nil, fmt.Errorf("broker sync: %s: %s", r.Command, r.Error)
		}
	}
	var cl struct {
		Clients []brokerClient `json:"clients"`
	}
	var rl struct {
		Roles []brokerRole `json:"roles"`
	}
	if err := errors.Join(json.Unmarshal(ans[0].Data, &cl), json.Unmarshal(ans[1].Data, &rl)); err != nil {
		return nil, nil, fmt.Errorf("broker sync: the plugin's lists: %w", err)
	}
	clients := make(map[string]brokerClient, len(cl.Clients))
	for _, c := range cl.Clients {
		clients[c.Username] = c
	}
	roles := make(map[string]brokerRole, len(rl.Roles))
	for _, r := range rl.Roles {
		roles[r.Rolename] = r
	}
	return clients, roles, nil
}

// Report says what a sync changed. Passwords holds the new random password of every account it
// made or rotated (to hand to the device); they are nowhere else. Known passwords (ioc's own)
// are not repeated there.
type Report struct {
	Created, Updated, Deleted, Unchanged int
	// Foreign are accounts the plan names that exist but were not made by sync: left alone.
	Foreign   []string
	Passwords map[string]string
}

// Sync makes the broker's accounts and roles those of plan: it creates what is missing (each
// new account with a fresh password), corrects rules and roles that differ, deletes the
// accounts and roles it made that the plan no longer has, and gives the accounts in rotate a
// new password.
func (a *Admin) Sync(ctx context.Context, plan Plan, rotate []string) (Report, error) {
	clients, roles, err := a.state(ctx)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Passwords: map[string]string{}}
	var cmds []command
	wantRoles := map[string]bool{}
	for _, r := range plan.Roles {
		wantRoles[r.Name] = true
		have, ok := roles[r.Name]
		if !ok {
			cmds = append(cmds, command{"command": "createRole", "rolename": r.Name, "textname": Marker + r.Name})
			have = brokerRole{Rolename: r.Name}
		}
		changed := !ok
		for _, acl := range r.ACLs {
			if !slices.ContainsFunc(have.ACLs, acl.same) {
				cmds = append(cmds, command{"command": "addRoleACL", "rolename": r.Name, "acltype": acl.Type, "topic": acl.Topic, "allow": acl.Allow})
				changed = true
			}
		}
		for _, acl := range have.ACLs {
			if !slices.ContainsFunc(r.ACLs, acl.same) {
				cmds = append(cmds, command{"command": "removeRoleACL", "rolename": r.Name, "acltype": acl.Type, "topic": acl.Topic})
				changed = true
			}
		}
		if changed && ok {
			rep.Updated++
		}
	}
	wantAccounts := map[string]bool{}
	for _, acc := range plan.Accounts {
		wantAccounts[acc.Username] = true
		have, ok := clients[acc.Username]
		switch {
		case !ok:
			pw := acc.password(rep)
			cmds = append(cmds, command{"command": "createClient", "username": acc.Username, "password": pw,
				"textname": Marker + acc.Text, "roles": []map[string]any{{"rolename": acc.Role}}})
			rep.Created++
			continue
		case !strings.HasPrefix(have.Textname, Marker):
			rep.Foreign = append(rep.Foreign, acc.Username)
			continue
		}
		changed := false
		if !slices.Contains(have.Roles, roleRef{acc.Role}) {
			cmds = append(cmds, command{"command": "addClientRole", "username": acc.Username, "rolename": acc.Role})
			changed = true
		}
		for _, r := range have.Roles {
			if r.Rolename != acc.Role && strings.HasPrefix(r.Rolename, rolePrefix) {
				cmds = append(cmds, command{"command": "removeClientRole", "username": acc.Username, "rolename": r.Rolename})
				changed = true
			}
		}
		if slices.Contains(rotate, acc.Username) {
			pw := acc.password(rep)
			cmds = append(cmds, command{"command": "setClientPassword", "username": acc.Username, "password": pw})
			changed = true
		}
		if changed {
			rep.Updated++
		} else {
			rep.Unchanged++
		}
	}
	for _, c := range clients {
		if !wantAccounts[c.Username] && strings.HasPrefix(c.Textname, Marker) {
			cmds = append(cmds, command{"command": "deleteClient", "username": c.Username})
			rep.Deleted++
		}
	}
	for _, r := range roles {
		if !wantRoles[r.Rolename] && strings.HasPrefix(r.Rolename, rolePrefix) {
			cmds = append(cmds, command{"command": "deleteRole", "rolename": r.Rolename})
		}
	}
	for _, u := range rotate {
		if !wantAccounts[u] {
			return Report{}, fmt.Errorf("broker sync: --rotate %s: no such device or account in the catalog", u)
		}
	}
	const batch = 200 // commands per message: the plugin answers a message's commands together
	for len(cmds) > 0 {
		n := min(batch, len(cmds))
		ans, err := a.do(ctx, cmds[:n])
		if err != nil {
			return Report{}, err
		}
		for i, r := range ans {
			if r.Error != "" {
				return Report{}, fmt.Errorf("broker sync: %s %v: %s", r.Command, describe(cmds[i]), r.Error)
			}
		}
		cmds = cmds[n:]
	}
	return rep, nil
}

// password is the account's known password, or a new random one noted in rep (to hand over).
func (acc Account) password(rep Report) string {
	if acc.Password != "" {
		return acc.Password
	}
	pw := token(24)
	rep.Passwords[acc.Username] = pw
	return pw
}

func (acl ACL) same(other ACL) bool {
	return acl.Type == other.Type && acl.Topic == other.Topic && acl.Allow == other.Allow
}

// describe names a command's object, never its password.
func describe(c command) string {
	for _, k := range []string{"username", "rolename"} {
		if v, ok := c[k]; ok {
			return fmt.Sprintf("%s=%v", k, v)
		}
	}
	return ""
}

func token(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // the system's randomness is gone
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}
