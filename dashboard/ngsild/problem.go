package ngsild

// Error types of the NGSI-LD API (ETSI GS CIM 009, 5.5.2), with the HTTP status each goes with.
const (
	ErrBadRequestData        = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"        // 400
	ErrInvalidRequest        = "https://uri.etsi.org/ngsi-ld/errors/InvalidRequest"        // 400
	ErrResourceNotFound      = "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"      // 404
	ErrAlreadyExists         = "https://uri.etsi.org/ngsi-ld/errors/AlreadyExists"         // 409
	ErrOperationNotSupported = "https://uri.etsi.org/ngsi-ld/errors/OperationNotSupported" // 422
	ErrTooManyResults        = "https://uri.etsi.org/ngsi-ld/errors/TooManyResults"        // 403
	ErrInternal              = "https://uri.etsi.org/ngsi-ld/errors/InternalError"         // 500
	ErrLdContextNotAvailable = "https://uri.etsi.org/ngsi-ld/errors/LdContextNotAvailable" // 503
)

// Problem is an error answer (RFC 7807 ProblemDetails, application/json).
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

// BadRequest is a BadRequestData problem of the parameter param.
func BadRequest(param, detail string) *Problem {
	return &Problem{Type: ErrBadRequestData, Title: "Bad request data", Status: 400, Detail: param + ": " + detail}
}

// NotFound is a ResourceNotFound problem.
func NotFound(detail string) *Problem {
	return &Problem{Type: ErrResourceNotFound, Title: "Resource not found", Status: 404, Detail: detail}
}
