package dashboard

import (
	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/alerts/incident"
	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/streams/mediamtx"
)

// table is the API: every route, who may call it, and what it takes and answers.
func (s *Server) table() []route {
	paged := withPaging
	csvParams := append(append([]param{}, trendParams...), param{name: "lang", typ: "string", desc: "header language, vi (default) or en", enum: []string{"vi", "en"}})
	return []route{
		{method: "GET", path: "/openapi.json", id: "openapi", tag: "meta", summary: "This document / Tài liệu OpenAPI", h: s.openAPI},
		{method: "GET", path: "/ui/config", id: "uiConfig", tag: "meta", perm: auth.Read, resp: UIConfig{}, summary: "What the web UI needs of this server / Cấu hình giao diện", h: s.uiConfig},
		{method: "GET", path: "/me", id: "me", tag: "meta", perm: auth.Read, resp: MeAnswer{}, summary: "The caller: name, role, units, permissions / Người dùng hiện tại", h: s.me},
		{method: "GET", path: "/health", id: "health", tag: "meta", perm: auth.Read, resp: healthAnswer{}, summary: "Dependencies' state / Tình trạng hệ thống", h: s.systemHealth},
		{method: "GET", path: "/dead-letters/summary", id: "deadLetterSummary", tag: "meta", perm: auth.Diagnose, resp: analytics.DeadLetterSummary{},
			summary: "Rejected payloads: counts by reason over 1 h and 24 h, the latest examples / Dữ liệu bị từ chối", h: s.deadLetterSummary},
		{method: "GET", path: "/live", id: "live", tag: "live", perm: auth.Read, summary: "Live hub (WebSocket; see the protocol in the description) / Kênh trực tiếp", h: s.live},

		{method: "GET", path: "/sensors", id: "listSensors", tag: "city", perm: auth.Read, resp: Page[SensorInfo]{}, summary: "Sensors and their latest values / Cảm biến và giá trị mới nhất",
			query: paged(param{name: "district", typ: "string", desc: "district"}, param{name: "kind", typ: "string", desc: "sensor kind"}, param{name: "q", typ: "string", desc: "text in the id or name"}), h: s.listSensors},
		{method: "GET", path: "/sensors/:id", id: "getSensor", tag: "city", perm: auth.Read, resp: SensorInfo{}, summary: "One sensor / Một cảm biến", h: s.getSensor},
		{method: "GET", path: "/cameras", id: "listCameras", tag: "city", perm: auth.Read, resp: Page[CameraInfo]{}, summary: "Cameras and their states / Camera và trạng thái",
			query: paged(param{name: "district", typ: "string", desc: "district"}, param{name: "state", typ: "string", desc: "online, degraded, offline or unknown", enum: []string{"online", "degraded", "offline", "unknown"}}, param{name: "purpose", typ: "string", desc: "camera purpose"}), h: s.listCameras},
		{method: "GET", path: "/cameras/:id", id: "getCamera", tag: "city", perm: auth.Read, resp: CameraInfo{}, summary: "One camera / Một camera", h: s.getCamera},
		{method: "GET", path: "/cameras/:id/live", id: "cameraLive", tag: "city", perm: auth.Read, resp: LiveAnswer{},
			summary: "A short-lived token to watch a camera through MediaMTX / Mã xem trực tiếp một camera", h: s.cameraLive},
		{method: "GET", path: "/cameras/:id/still", id: "cameraStill", tag: "city", perm: auth.Read, produces: "image/jpeg",
			summary: "A camera's picture now: its ONVIF snapshot (JPEG), else its last recorded second (MP4) / Ảnh tĩnh của camera", h: s.cameraStill},
		{method: "GET", path: "/cameras/:id/events", id: "cameraEvents", tag: "city", perm: auth.Read, query: cameraEventParams, resp: Page[CameraEventInfo]{},
			summary: "A camera's analytics events, newest first, each with its evidence clip / Sự kiện phân tích của camera", h: s.cameraEvents},
		{method: "GET", path: "/cameras/:id/clip", id: "cameraClip", tag: "city", perm: auth.Read, query: clipParams, produces: "video/mp4",
			summary: "A recorded clip of a camera (MP4) / Đoạn ghi hình của camera", h: s.playClip},
		{method: "GET", path: "/cameras/:id/clip/download", id: "downloadClip", tag: "city", perm: auth.Read, query: clipParams, produces: "video/mp4", audit: "clip.download",
			summary: "Save a recorded clip (police and administrators; audited) / Tải đoạn ghi hình", h: s.downloadClip},
		{method: "POST", path: "/citizen-reports", id: "submitCitizenReport", tag: "citizen", perm: auth.Report, produces: "application/json", resp: CitizenReceipt{},
			summary: "A citizen app submits a report: multipart parts report (JSON) and 1-5 photos, the device in X-Device-ID (201, or 200 when sent before) / Gửi phản ánh hiện trường", h: s.submitCitizenReport},
		{method: "GET", path: "/citizen-reports/tickets/:ticket", id: "citizenStatus", tag: "citizen", perm: auth.Report, resp: CitizenStatus{},
			summary: "A report's state and the agency's answer, by its ticket / Tra cứu phản ánh theo mã", h: s.citizenStatus},
		{method: "POST", path: "/video/auth", id: "videoAuth", tag: "video", body: mediamtx.AuthRequest{},
			summary: "MediaMTX's external authentication: may this reader watch this camera? (200 or 401) / Xác thực xem video", h: s.videoAuth},
		{method: "GET", path: "/districts", id: "listDistricts", tag: "city", perm: auth.Read, query: paged(), resp: Page[DistrictSummary]{}, summary: "Districts with their KPIs / Các huyện và chỉ số", h: s.listDistricts},
		{method: "GET", path: "/tiles/:z/:x/:y", id: "mapTile", tag: "city", perm: auth.Read, produces: "application/octet-stream",
			summary: "A map tile of http.tiles_file (its media type and encoding as stored) / Ô bản đồ nền", h: s.tile},
		{method: "GET", path: "/districts/outlines", id: "districtOutlines", tag: "city", perm: auth.Read, resp: GeoJSON{}, produces: "application/geo+json", summary: "District outlines as GeoJSON, the map's background / Ranh giới huyện", h: s.districtOutlines},

		{method: "GET", path: "/alerts", id: "listAlerts", tag: "alerts", perm: auth.Read, query: alertListParams, resp: Page[alerts.Alert]{}, summary: "Live alerts the caller sees / Cảnh báo đang mở", h: s.listAlerts},
		{method: "GET", path: "/alerts/history", id: "alertHistory", tag: "history", perm: auth.History, query: withPaging(historyParams...), resp: Page[HistoryItem]{}, summary: "Alerts of a time range, searched / Tra cứu lịch sử cảnh báo", h: s.alertHistory},
		{method: "GET", path: "/alerts/history/response-times", id: "responseTimes", tag: "history", perm: auth.History, query: historyParams, resp: []ResponseTime{}, summary: "Median times to acknowledge and resolve, by unit and category / Thời gian phản hồi", h: s.responseTimes},
		{method: "GET", path: "/exports/alerts.csv", id: "exportAlerts", tag: "history", perm: auth.History, query: historyParams, produces: "text/csv", summary: "The alert history as CSV / Xuất lịch sử cảnh báo", h: s.exportAlerts},
		{method: "GET", path: "/duty/log", id: "dutyLog", tag: "duty", perm: auth.Duty, query: dutyLogParams, resp: []analytics.DutyEntry{}, summary: "The duty log, newest first / Nhật ký ca trực", h: s.dutyLog},
		{method: "POST", path: "/duty/log", id: "writeDutyLog", tag: "duty", perm: auth.Duty, body: DutyLogBody{}, resp: analytics.DutyEntry{}, audit: "duty.log", summary: "Write a line in the duty log / Ghi nhật ký ca trực", h: s.writeDutyLog},
		{method: "GET", path: "/duty/handover", id: "handoverScreen", tag: "duty", perm: auth.Duty, resp: HandoverScreen{},
			summary: "The handover: the one waiting, the last accepted, the unacknowledged alerts, the log since / Bàn giao ca", h: s.handoverScreen},
		{method: "GET", path: "/duty/handovers", id: "listHandovers", tag: "duty", perm: auth.Duty, query: paged(), resp: Page[analytics.Handover]{}, summary: "Handovers, newest first / Các lần bàn giao ca", h: s.listHandovers},
		{method: "POST", path: "/duty/handovers", id: "handOver", tag: "duty", perm: auth.Duty, body: HandoverBody{}, resp: analytics.Handover{}, audit: "duty.handover",
			summary: "Hand the shift over (the outgoing officer) / Bàn giao ca (người giao)", h: s.handOver},
		{method: "POST", path: "/duty/handovers/:id/accept", id: "acceptHandover", tag: "duty", perm: auth.Duty, body: AcceptBody{}, resp: analytics.Handover{}, audit: "duty.accept",
			summary: "Accept a handover (the incoming officer, not the outgoing one) / Nhận ca (người nhận)", h: s.acceptHandover},

		{method: "GET", path: "/incidents", id: "listIncidents", tag: "incidents", perm: auth.Read, query: incidentListParams, resp: Page[incident.Incident]{},
			summary: "Incidents not closed, and those closed within a day / Sự cố đang xử lý", h: s.listIncidents},
		{method: "GET", path: "/incidents/rules", id: "incidentRules", tag: "incidents", perm: auth.Read, resp: IncidentRules{},
			summary: "The correlations and response procedures in force / Quy tắc gộp sự cố và quy trình ứng phó", h: s.incidentRules},
		{method: "GET", path: "/incidents/history", id: "incidentHistory", tag: "incidents", perm: auth.History, query: withPaging(incidentHistoryParams...), resp: Page[incident.Incident]{},
			summary: "Incidents of a time range, searched / Tra cứu lịch sử sự cố", h: s.incidentHistory},
		{method: "GET", path: "/exports/incidents.csv", id: "exportIncidents", tag: "incidents", perm: auth.History, query: incidentHistoryParams, produces: "text/csv",
			summary: "The incident history as CSV / Xuất lịch sử sự cố", h: s.exportIncidents},
		{method: "GET", path: "/incidents/:id", id: "getIncident", tag: "incidents", perm: auth.Read, resp: IncidentDetail{},
			summary: "One incident with its timeline / Chi tiết sự cố", h: s.getIncident},
		{method: "GET", path: "/incidents/:id/report", id: "incidentReport", tag: "incidents", perm: auth.Read, produces: "text/html",
			query:   []param{{name: "lang", typ: "string", desc: "vi (default) or en", enum: []string{"vi", "en"}}},
			summary: "The incident's printable report (HTML) / Báo cáo sự cố để in", h: s.incidentReport},
		{method: "POST", path: "/incidents/:id/take", id: "takeIncident", tag: "incidents", perm: auth.ActOnAlerts, resp: incident.Incident{}, audit: "incident.take",
			summary: "Take the incident (the center's staff) / Nhận xử lý sự cố", h: s.takeIncident},
		{method: "POST", path: "/incidents/:id/state", id: "setIncidentState", tag: "incidents", perm: auth.ActOnAlerts, body: IncidentStateBody{}, resp: incident.Incident{}, audit: "incident.state",
			summary: "Move the incident: in progress, contained, closed (with a summary) / Chuyển trạng thái sự cố", h: s.setIncidentState},
		{method: "POST", path: "/incidents/:id/notes", id: "noteIncident", tag: "incidents", perm: auth.ActOnAlerts, body: IncidentNoteBody{}, resp: incident.Incident{}, audit: "incident.note",
			summary: "Write in the incident's timeline / Ghi diễn biến sự cố", h: s.noteIncident},
		{method: "POST", path: "/incidents/:id/steps/:step/done", id: "tickStep", tag: "incidents", perm: auth.ActOnAlerts, body: StepBody{}, resp: incident.Incident{}, audit: "incident.step",
			summary: "Tick a step of the response procedure / Hoàn thành bước ứng phó", h: s.tickStep},
		{method: "GET", path: "/alerts/:id", id: "getAlert", tag: "alerts", perm: auth.Read, resp: AlertDetail{}, summary: "One alert with its history / Chi tiết cảnh báo", h: s.getAlert},
		{method: "POST", path: "/alerts/:id/acknowledge", id: "acknowledgeAlert", tag: "alerts", perm: auth.ActOnAlerts, body: AckBody{}, resp: alerts.Alert{}, audit: "alert.acknowledge", summary: "Acknowledge / Xác nhận", h: s.ackAlert},
		{method: "POST", path: "/alerts/:id/assign", id: "assignAlert", tag: "alerts", perm: auth.ActOnAlerts, body: AssignBody{}, resp: alerts.Alert{}, audit: "alert.assign", summary: "Assign to a person / Giao cho người xử lý", h: s.assignAlert},
		{method: "POST", path: "/alerts/:id/comments", id: "commentAlert", tag: "alerts", perm: auth.ActOnAlerts, body: CommentBody{}, resp: alerts.Alert{}, audit: "alert.comment", summary: "Comment / Ghi chú", h: s.commentAlert},
		{method: "POST", path: "/alerts/:id/resolve", id: "resolveAlert", tag: "alerts", perm: auth.ActOnAlerts, body: ResolveBody{}, resp: alerts.Alert{}, audit: "alert.resolve", summary: "Resolve by hand / Đóng cảnh báo", h: s.resolveAlert},

		{method: "GET", path: "/silences", id: "listSilences", tag: "alerts", perm: auth.Read, query: paged(), resp: Page[alerts.Silence]{}, summary: "Silences in force or to come / Lệnh tạm im lặng", h: s.listSilences},
		{method: "GET", path: "/notifications/channels", id: "listChannels", tag: "alerts", perm: auth.Diagnose, resp: []alerts.ChannelState{}, summary: "How each notification channel's deliveries went lately / Tình trạng kênh thông báo", h: s.listChannels},
		{method: "GET", path: "/cap/drafts", id: "listWarningDrafts", tag: "alerts", perm: auth.ApproveWarnings, resp: []alerts.CAPDraft{}, summary: "Public warnings waiting for approval / Bản tin cảnh báo chờ duyệt", h: s.listWarningDrafts},
		{method: "POST", path: "/alerts/:id/cap/approve", id: "approveWarning", tag: "alerts", perm: auth.ApproveWarnings, body: WarningDecision{}, resp: ApproveAnswer{}, audit: "cap.approve", summary: "Approve the public warning (released once enough people did) / Duyệt bản tin cảnh báo", h: s.approveWarning},
		{method: "POST", path: "/alerts/:id/cap/reject", id: "rejectWarning", tag: "alerts", perm: auth.ApproveWarnings, body: WarningDecision{}, audit: "cap.reject", summary: "Reject the public warning / Không phát bản tin", h: s.rejectWarning},
		{method: "POST", path: "/silences", id: "createSilence", tag: "alerts", perm: auth.Silence, body: SilenceBody{}, resp: alerts.Silence{}, audit: "silence.create", summary: "Create a silence / Tạo lệnh im lặng", h: s.createSilence},
		{method: "DELETE", path: "/silences/:id", id: "expireSilence", tag: "alerts", perm: auth.Silence, audit: "silence.expire", summary: "End a silence now / Kết thúc lệnh im lặng", h: s.expireSilence},
		{method: "GET", path: "/rules", id: "listRules", tag: "alerts", perm: auth.Read, query: paged(), resp: Page[RuleInfo]{}, summary: "Alert rules in force / Luật cảnh báo", h: s.listRules},
		{method: "POST", path: "/rules/reload", id: "reloadRules", tag: "alerts", perm: auth.Administer, resp: ReloadAnswer{}, audit: "rules.reload", summary: "Reload the rule file / Nạp lại luật", h: s.reloadRules},

		{method: "GET", path: "/trends", id: "trend", tag: "history", perm: auth.History, resp: TrendAnswer{}, summary: "A metric's trend for sensors / Xu hướng",
			query: append(append([]param{}, trendParams...), param{name: "compare", typ: "string", desc: "also the same span this long before: 1d, 7d, 28d, 52w", enum: []string{"1d", "7d", "28d", "52w"}}), h: s.trend},
		{method: "GET", path: "/exports/trend.csv", id: "exportTrend", tag: "history", perm: auth.History, produces: "text/csv", summary: "A trend as CSV / Xuất CSV",
			query: csvParams, h: s.exportTrend},
		{method: "GET", path: "/exports/readings.csv", id: "exportReadings", tag: "history", perm: auth.History, produces: "text/csv", summary: "Raw readings as CSV / Xuất số liệu gốc",
			query: csvParams, h: s.exportReadings},
		{method: "GET", path: "/keys", id: "listKeys", tag: "admin", perm: auth.Administer, resp: []KeyInfo{}, summary: "API keys, without their tokens / Danh sách khóa truy cập", h: s.listKeys},
		{method: "POST", path: "/keys", id: "createKey", tag: "admin", perm: auth.Administer, body: KeyBody{}, resp: NewKeyAnswer{}, audit: "key.create", summary: "Make an API key (its token shown once) / Tạo khóa truy cập", h: s.createKey},
		{method: "POST", path: "/keys/:id/rotate", id: "rotateKey", tag: "admin", perm: auth.Administer, resp: NewKeyAnswer{}, audit: "key.rotate", summary: "Rotate a key: a new token, the old one refused at once / Đổi khóa", h: s.rotateKey},
		{method: "DELETE", path: "/keys/:id", id: "revokeKey", tag: "admin", perm: auth.Administer, resp: KeyInfo{}, audit: "key.revoke", summary: "Revoke a key at once / Thu hồi khóa", h: s.revokeKey},
		{method: "GET", path: "/audit", id: "listAudit", tag: "admin", perm: auth.Administer, query: auditParams, resp: Page[AuditEntry]{}, summary: "Audit log of changes / Nhật ký thay đổi", h: s.listAudit},
	}
}
