package dashboard

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/dashboard/auth"
)

// WarningDecision approves or rejects an alert's public warning. Identifier is the draft's, as
// the person read it: a draft that changed since is not approved in its place.
type WarningDecision struct {
	Identifier string `json:"identifier"`
	// Reason is required to reject.
	Reason string `json:"reason,omitempty"`
}

// ApproveAnswer is the draft after an approval, and whether it went out.
type ApproveAnswer struct {
	Draft    alerts.CAPDraft `json:"draft"`
	Released bool            `json:"released"`
}

func (s *Server) listWarningDrafts(c *fiber.Ctx, _ *auth.Principal) error {
	if s.src.Warnings == nil {
		return errUnavailable
	}
	return c.JSON(s.src.Warnings.Drafts())
}

var errDraftChanged = &apiError{Status: fiber.StatusConflict, Code: "draft_changed",
	MessageVI: "Bản tin đã thay đổi hoặc không còn chờ duyệt; hãy xem lại", MessageEN: "the draft changed or no longer waits; read it again"}

func (s *Server) decide(c *fiber.Ctx, p *auth.Principal, reject bool) error {
	if s.src.Warnings == nil {
		return errUnavailable
	}
	var b WarningDecision
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	b.Reason = strings.TrimSpace(b.Reason)
	switch {
	case b.Identifier == "":
		return errMissingField("identifier")
	case reject && b.Reason == "":
		return errMissingField("reason")
	case len(b.Reason) > 4000:
		return errBadRequest("too_long", "at most 4000 bytes of text")
	}
	noteAudit(c, strings.TrimSpace(b.Identifier+" "+b.Reason))
	id := c.Params("id")
	if _, err := s.findAlert(c.UserContext(), p, id); err != nil {
		return err
	}
	if reject {
		err := s.src.Warnings.Reject(c.UserContext(), id, b.Identifier, p.ID, b.Reason)
		if errors.Is(err, alerts.ErrDraftChanged) {
			return errDraftChanged
		}
		if err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
	d, released, err := s.src.Warnings.Approve(c.UserContext(), id, b.Identifier, p.ID, p.Name)
	switch {
	case errors.Is(err, alerts.ErrNotFound), errors.Is(err, alerts.ErrDraftChanged):
		return errDraftChanged
	case errors.Is(err, alerts.ErrSameApprover):
		return &apiError{Status: fiber.StatusConflict, Code: "same_approver", MessageVI: "Bạn đã duyệt bản tin này; cần người thứ hai duyệt",
			MessageEN: "you approved this already; a second person must approve", Detail: err.Error()}
	case err != nil:
		return err
	}
	return c.JSON(ApproveAnswer{Draft: d, Released: released})
}

func (s *Server) approveWarning(c *fiber.Ctx, p *auth.Principal) error { return s.decide(c, p, false) }

func (s *Server) rejectWarning(c *fiber.Ctx, p *auth.Principal) error { return s.decide(c, p, true) }
