package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/testenv"
)

// The river alert's public warning waits for a person: a role that may not approve is refused
// (and audited) and nothing changes; the duty officer approves the draft as read, and the
// warning is on the public feed, with who approved it in the audit log.
func TestWarningApproval(t *testing.T) {
	f := newFixture(t, 0)
	testenv.WaitFor(t, "the river alert's draft", 10*time.Second, func() bool {
		_, ok := f.capFeed.DraftOf(f.alert.ID)
		return ok
	})
	path := APIPrefix + "/alerts/" + f.alert.ID
	var detail AlertDetail
	code, body := f.call(t, "operator", "GET", path, "")
	if code != 200 || json.Unmarshal(body, &detail) != nil || detail.CAPDraft == nil || detail.CAPDraft.Needed != 1 {
		t.Fatalf("alert detail: %d %s", code, body)
	}
	id := detail.CAPDraft.Identifier
	decision := fmt.Sprintf(`{"identifier":%q}`, id)
	for _, key := range []string{"viewer", "flood", "analyst"} {
		if code, _ := f.call(t, key, "POST", path+"/cap/approve", decision); code != 403 {
			t.Errorf("%s approving: %d, want 403", key, code)
		}
	}
	if _, ok := f.capFeed.DraftOf(f.alert.ID); !ok {
		t.Fatal("a refused approval changed the draft")
	}
	if code, body := f.call(t, "operator", "POST", path+"/cap/approve", `{"identifier":"ioc.invalid.other.1"}`); code != 409 || !strings.Contains(string(body), "draft_changed") {
		t.Errorf("approving another draft: %d %s", code, body)
	}
	if code, body := f.call(t, "operator", "POST", path+"/cap/reject", decision); code != 400 || !strings.Contains(string(body), `"detail":"reason"`) {
		t.Errorf("rejecting without a reason: %d %s", code, body)
	}
	code, body = f.call(t, "operator", "POST", path+"/cap/approve", decision)
	var ans ApproveAnswer
	if code != 200 || json.Unmarshal(body, &ans) != nil || !ans.Released || ans.Draft.Approvals[0].By != "key:operator" {
		t.Fatalf("approve: %d %s", code, body)
	}
	feed, err := f.capFeed.Atom("")
	if err != nil || !strings.Contains(string(feed), id) {
		t.Errorf("the approved warning is not on the feed: %v\n%s", err, feed)
	}
	if code, _ := f.call(t, "operator", "POST", path+"/cap/approve", decision); code != 409 {
		t.Errorf("approving a released draft: %d, want 409", code)
	}
	testenv.WaitFor(t, "the approval and the refusals in the audit log", 15*time.Second, func() bool {
		return f.auditCount("cap.approve", 200) == 1 && f.auditCount("cap.approve", 403) == 3
	})
}

// auditCount counts the audit log's entries of action with status.
func (f *fixture) auditCount(action string, status int) int {
	entries, _, err := f.audit.List(context.Background(), time.Now().Add(-time.Hour), time.Now().Add(time.Minute), "", action, 100, 0)
	if err != nil {
		return -1
	}
	n := 0
	for _, e := range entries {
		if e.Status == status {
			n++
		}
	}
	return n
}
