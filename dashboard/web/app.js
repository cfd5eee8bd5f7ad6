// Hải Đăng IOC web UI: no framework, nothing fetched from outside the server. Vietnamese
// first, English on request; every time shown in Asia/Ho_Chi_Minh.
'use strict';

const SVGNS = 'http://www.w3.org/2000/svg';
const TZ = 'Asia/Ho_Chi_Minh';
const API = '/api/v1';

const I18N = {
  vi: {
    subtitle: 'Trung tâm điều hành thông minh', navMap: 'Bản đồ', navAlerts: 'Cảnh báo', navCameras: 'Camera',
    navTrends: 'Xu hướng', navHealth: 'Hệ thống', mute: 'Tắt chuông', unmute: 'Bật chuông', logout: 'Đăng xuất',
    seeAlert: 'Xem cảnh báo', loginTitle: 'Đăng nhập', loginHelp: 'Dán mã truy cập (API key hoặc JWT) do quản trị viên cấp.',
    login: 'Đăng nhập', loginFailed: 'Mã truy cập không đúng hoặc đã hết hạn.', unacked: 'Chưa xác nhận', allLive: 'Tất cả đang mở',
    severity: 'Mức độ', alert: 'Cảnh báo', district: 'Huyện', state: 'Trạng thái', since: 'Bắt đầu', units: 'Đơn vị',
    sensors: 'Cảm biến', metric: 'Đại lượng', range: 'Khoảng', compare: 'So sánh', none: 'Không', show: 'Xem', exportCsv: 'Xuất CSV',
    kCameras: 'Camera trực tuyến', kRivers: 'Sông vượt báo động (I / II / III)', kAlerts: 'Cảnh báo đang mở',
    kCritical: 'Khẩn cấp', kSensors: 'Cảm biến đang gửi', kUnacked: 'Chưa xác nhận',
    sevcritical: 'Khẩn cấp', sevhigh: 'Cao', sevmedium: 'Trung bình', sevlow: 'Thấp', sevinformational: 'Thông tin',
    stpending: 'Chờ', stfiring: 'Đang báo', stacknowledged: 'Đã xác nhận', stresolved: 'Đã kết thúc',
    ack: 'Xác nhận', assign: 'Giao việc', comment: 'Ghi chú', resolve: 'Đóng', history: 'Diễn biến',
    askAssignee: 'Giao cho ai?', askComment: 'Ghi chú:', askReason: 'Lý do đóng cảnh báo:', askNote: 'Ghi chú khi xác nhận (không bắt buộc):',
    newCritical: 'CẢNH BÁO KHẨN CẤP', camerasCount: '{n} camera, {on} trực tuyến', alertsCount: '{n} cảnh báo',
    online: 'Trực tuyến', degraded: 'Suy giảm', offline: 'Mất kết nối', unknown: 'Chưa rõ', liveView: 'Xem trực tiếp',
    level: 'Báo động', noData: 'Chưa có dữ liệu', pickSensor: 'Chọn ít nhất một cảm biến.', before: 'kỳ trước',
    healthChecks: 'Thành phần', up: 'hoạt động', down: 'lỗi', version: 'Phiên bản', liveOn: 'Kênh trực tiếp: đã kết nối',
    liveOff: 'Kênh trực tiếp: mất kết nối', role: 'Vai trò', lastValue: 'Giá trị mới nhất', legendSensor: 'Cảm biến',
    legendAlarm: 'Vượt báo động', legendCamera: 'Camera', legendStale: 'Không gửi', kpiCity: 'Toàn tỉnh', saved: 'Đã lưu tệp',
    forbidden: 'Vai trò của bạn không được phép làm việc này.', failed: 'Không thực hiện được',
    evpending: 'Bắt đầu theo dõi', evfiring: 'Phát cảnh báo', evupdated: 'Thay đổi mức độ', evacknowledged: 'Xác nhận',
    evassigned: 'Giao việc', evcommented: 'Ghi chú', evescalated: 'Chuyển cấp', evresolved: 'Kết thúc', evreported: 'Thêm phản ánh',
    simulatedHelp: 'Dữ liệu mô phỏng, không phải của tỉnh thật; đồng hồ chạy nhanh gấp {x} lần.',
    actorengine: 'hệ thống', deadLetters: 'Dữ liệu bị từ chối', dlReason: 'Lý do', dlHour: '1 giờ', dlDay: '24 giờ',
    dlLatest: 'Gần nhất', dlNone: 'Không có dữ liệu bị từ chối trong 24 giờ.', alarmLine: 'BĐ',
    legendDistrict: 'Huyện theo cảnh báo cao nhất',
    suspect: 'Nghi vấn', suspectHelp: 'Số đo bất thường so với trạm (thay đổi quá nhanh, ngoài khoảng thường gặp hoặc khác trạm lân cận); cần kiểm tra trước khi cảnh báo công chúng.',
    capDraft: 'Bản tin cảnh báo công chúng chờ duyệt', capApprovals: 'Đã duyệt {n}/{m}', capApprove: 'Duyệt phát', capReject: 'Không phát',
    capStatusExercise: 'DIỄN TẬP', capStatusTest: 'THỬ NGHIỆM', capStatusActual: 'THẬT', capAskReject: 'Lý do không phát bản tin:',
    silencesTitle: 'Lệnh im lặng', silenceWhat: 'Áp dụng cho', silenceUntil: 'Đến', silenceAuthor: 'Người tạo', silenceReason: 'Lý do',
    silence: 'Im lặng', silenceEnd: 'Kết thúc', silenceHours: '{h} giờ', silenceAsk: 'Lý do im lặng (bảo trì, đã biết…)', noSilences: 'Không có lệnh im lặng nào.',
    silenced: 'Đã im lặng đến {t}.', silenceValue: 'Giá trị (tên huyện, mã cảm biến…)',
    rulesTitle: 'Luật cảnh báo', rulesReload: 'Nạp lại tệp luật', ruleName: 'Luật', ruleKind: 'Loại', ruleCategory: 'Nhóm',
    rulePublic: 'Cảnh báo công chúng', rulesReloaded: 'Đã nạp {n} luật.', yes: 'có', no: 'không',
    cat_traffic: 'Giao thông', cat_naturalDisaster: 'Thiên tai', cat_weather: 'Thời tiết', cat_environment: 'Môi trường', cat_health: 'Y tế',
    cat_security: 'An ninh', cat_agriculture: 'Nông nghiệp', cat_infrastructure: 'Hạ tầng', cat_fireAndEmergency: 'Cháy nổ và cứu nạn',
    catSensors: 'Danh mục cảm biến', catCameras: 'Danh mục camera', catName: 'Tên', catEvery: 'Chu kỳ',
    screenCameras: 'Camera', screenAlerts: 'Cảnh báo đang mở', screenNoAlerts: 'Không có cảnh báo nào đang mở.', screenCamsOff: '{n} camera không hoạt động',
    mapGroup: '{n} trạm ở cùng chỗ', zoomIn: 'Phóng to', zoomOut: 'Thu nhỏ', zoomFit: 'Toàn tỉnh',
    navIncidents: 'Sự cố', incident: 'Sự cố', incOpen: 'Chưa kết thúc', incWithClosed: 'Cả sự cố kết thúc trong ngày', incSteps: 'Các bước',
    incOwner: 'Chủ trì', incnew: 'Mới', incin_progress: 'Đang xử lý', inccontained: 'Đã kiểm soát', incclosed: 'Đã kết thúc',
    incNone: 'Không có sự cố nào.', incTake: 'Nhận xử lý', incToProgress: 'Đang xử lý', incToContained: 'Đã kiểm soát', incClose: 'Kết thúc sự cố',
    incReport: 'Báo cáo (in)', incProcedure: 'Quy trình ứng phó', incNoSteps: 'Không có quy trình cho loại sự cố này.', incDue: 'hạn',
    incOverdue: 'QUÁ HẠN', incOverdueN: '{n} quá hạn', incDoneBy: '{who} hoàn thành lúc {t}', incDone: 'Hoàn thành',
    incAskSummary: 'Kết luận khi kết thúc sự cố (diễn biến, thiệt hại, việc đã làm):', incAskStepNote: 'Ghi chú về bước này (không bắt buộc):',
    clipPlay: 'Xem đoạn ghi hình', clipSave: 'Tải đoạn ghi hình', clipNone: 'Không có đoạn ghi hình',
    wallLayout: 'Bố cục', wallCards: 'Thẻ trạng thái', wallPage: 'Trang {p}/{n}',
    navReports: 'Phản ánh', legendReport: 'Phản ánh chưa xử lý xong', repCategory: 'Lĩnh vực', repAll: 'Tất cả', repreceived: 'Tiếp nhận', repin_progress: 'Đang xử lý', represolved: 'Đã xử lý',
    reprejected: 'Từ chối', repReceived: 'Tiếp nhận', repPlace: 'Địa điểm', repText: 'Nội dung', repPhotos: 'Ảnh', repCount: '{n} phản ánh',
    repNone: 'Không có phản ánh', repNoPhoto: 'không tải được ảnh', repTicket: 'Mã phản ánh', repContact: 'Liên hệ', repAnswer: 'Trả lời',
    repTaken: 'chụp lúc', repExifAt: 'vị trí ảnh cách nơi phản ánh {m} m',
    repUnits: 'Đơn vị xử lý', repDue: 'Hạn xử lý', repOverdue: 'quá hạn', repGroup: 'Nhóm', repGroupOf: '{n} phản ánh cùng nơi', repGroupHint: 'cùng lĩnh vực, trong 50 m và 2 giờ', repAlert: 'mở cảnh báo',
    repCamera: 'Camera gần nhất', repCameraOpen: 'mở màn hình camera', repTake: 'Tiếp nhận xử lý', repDoAnswer: 'Trả lời & kết thúc', repReject: 'Từ chối',
    repAskAnswer: 'Nội dung trả lời công dân (hiện theo mã phản ánh):', repAskReject: 'Lý do từ chối (công dân sẽ đọc được):', repNotRouted: 'đang chuyển tới đơn vị…',
    repStats: 'Thống kê', repBy: 'Theo', repBycategory: 'lĩnh vực', repBydistrict: 'huyện', repByunit: 'đơn vị', repStatKey: 'Nhóm', repStatN: 'Số phản ánh',
    repStatOpen: 'Chưa tiếp nhận', repStatOverdue: 'Quá hạn', repStatResp: 'Phản hồi (trung vị)', repStatAns: 'Trả lời (trung vị)', repStatRange: '30 ngày qua',
    livePlay: 'Xem video', stillAt: 'Ảnh lúc {t}', camEvents: 'Sự kiện', camEventsNone: 'Không có sự kiện trong 24 giờ qua',
    camEventKind: 'Loại', camEventObject: 'Đối tượng', camEventTime: 'Thời gian',
    eventKindmotion: 'Chuyển động', eventKindline_crossing: 'Vượt vạch', eventKindintrusion: 'Xâm nhập vùng', eventKindobject_count: 'Đếm đối tượng',
    eventKindobject: 'Đối tượng', eventKindtamper: 'Che/xoay camera', eventKindother: 'Khác',
    videoDownNote: 'Video trực tiếp không khả dụng: máy chủ video không phản hồi. Đang hiển thị ảnh tĩnh của camera và thử lại sau mỗi 15 giây.', liveFailed: 'Không phát được video', liveNoServer: 'chưa cấu hình máy chủ video',
    liveDown: 'máy chủ video không phản hồi, chỉ xem được trạng thái', liveDenied: 'không có quyền xem camera này', liveNoAnswer: 'camera không phản hồi',
    incStepsOpen: '{n} bước chưa xong', incStepsN: '{n} bước', procTitle: 'Sự cố: quy tắc gộp và quy trình ứng phó', corrName: 'Quy tắc',
    corrType: 'Loại sự cố', corrMatch: 'Cảnh báo', corrBy: 'Gộp theo', corrWindow: 'Cửa sổ', incAlertsN: '{n} cảnh báo', histIncCount: '{n} sự cố', histKind: 'Tra cứu', incClosedAt: 'Kết thúc',
    screenIncidents: 'Sự cố đang xử lý', screenNoIncidents: 'Không có sự cố nào đang xử lý.',
    handoverIncidents: 'Sự cố chưa kết thúc ({n})', handoverIncidentsThen: 'Sự cố chưa kết thúc lúc bàn giao ({n})', handoverNoIncidents: 'Không có sự cố nào chưa kết thúc.',
    navDuty: 'Ca trực', dutyLog: 'Nhật ký ca trực', dutyWrite: 'Ghi việc trong ca (giờ, nơi, việc đã làm…)', dutyAdd: 'Ghi', dutyEmpty: 'Chưa có ghi chép nào trong ca.',
    handoverTitle: 'Bàn giao ca', handoverNotes: 'Dặn dò cho ca sau', handoverDo: 'Bàn giao ca', handoverWaiting: '{who} bàn giao lúc {t}, chờ người nhận ca',
    handoverAccept: 'Nhận ca', handoverAcceptNote: 'Ghi chú khi nhận (không bắt buộc)', handoverOwn: 'Bạn đã bàn giao ca này; người trực ca sau phải nhận.',
    handoverLast: 'Lần bàn giao trước: {out} → {in}, nhận lúc {t}', handoverUnacked: 'Cảnh báo chưa xác nhận ({n})', handoverNone: 'Không có cảnh báo nào chưa xác nhận.',
    handoverAlertsThen: 'Cảnh báo chưa xác nhận lúc bàn giao ({n})', handoverAccepted: 'Đã nhận ca.',
    navHistory: 'Lịch sử', histFrom: 'Từ ngày', histTo: 'Đến ngày', histText: 'Tìm trong cảnh báo (trạm, huyện, lý do…)', histSearch: 'Tra cứu',
    histFired: 'Phát lúc', histAck: 'Xác nhận sau', histResolve: 'Kết thúc sau', histTimes: 'Thời gian phản hồi (trung vị)', alertsN: 'Số cảnh báo',
    histCount: '{n} cảnh báo',
    navAdmin: 'Quản trị', keysTitle: 'Khóa truy cập (API key)', keyName: 'Người giữ', keyUnits: 'Đơn vị (police, flood_control…)',
    keySource: 'Nguồn', keyExpires: 'Hết hạn', keyCreate: 'Tạo khóa', keyRotate: 'Đổi khóa', keyRevoke: 'Thu hồi',
    keyToken: 'Mã mới của {id} (chỉ hiện một lần, hãy trao cho người giữ): {token}', keyConfirmRevoke: 'Thu hồi khóa {id}? Mã của nó sẽ bị từ chối ngay.',
    src_config: 'tệp cấu hình', src_api: 'tạo qua API', ks_active: 'còn hiệu lực', ks_expired: 'hết hạn', ks_revoked: 'đã thu hồi',
    channels: 'Kênh thông báo', chFailing: 'lỗi {n} lần liên tiếp', chOK: 'hoạt động', chUnused: 'chưa gửi', chLastOK: 'gửi được lần cuối',
    sharing: 'Chia sẻ dữ liệu (NGSI-LD)', sh_subscription: 'Đăng ký', sh_push: 'Đẩy sang', shSent: '{n} thông báo', shFailing: 'lỗi', shPaused: 'tạm dừng',
    shExpired: 'hết hạn', shNone: 'Chưa có đơn vị nào đăng ký nhận dữ liệu.',
    deliveries: 'Thông báo đã gửi', noDeliveries: 'Chưa gửi thông báo nào.', dlv_ok: 'đã nhận', dlv_retry: 'lỗi, sẽ gửi lại',
    dlv_failed: 'thất bại', dlv_dropped: 'bị bỏ (hàng đợi đầy)', ch_webhook: 'Webhook', ch_email: 'Email', ch_gateway: 'SMS/Zalo', attempt: 'lần',
    capReleased: 'Bản tin đã được phát lên kênh cảnh báo công chúng.', capSecond: 'Cần thêm một người khác duyệt (rủi ro cấp {r}).',
    roleadmin: 'quản trị', roleoperator: 'trực ban', roleunit: 'đơn vị', roleanalyst: 'phân tích', roleviewer: 'màn hình tường',
    unit_police: 'Công an tỉnh', unit_traffic_police: 'CSGT', unit_fire_police: 'Cảnh sát PCCC & CNCH', unit_flood_control: 'Ban chỉ huy PCTT',
    unit_water_utility: 'Cấp thoát nước', unit_environment: 'Sở TN&MT', unit_ioc: 'Trung tâm IOC',
    m_water_level: 'Mực nước', m_discharge: 'Lưu lượng', m_rainfall: 'Lượng mưa', m_rain_intensity: 'Cường độ mưa',
    m_vehicle_count: 'Số xe', m_motorbike_count: 'Số xe máy', m_car_count: 'Số ô tô', m_bus_count: 'Số xe buýt', m_truck_count: 'Số xe tải',
    m_avg_speed: 'Tốc độ trung bình', m_occupancy: 'Độ chiếm dụng', m_ph: 'pH', m_turbidity: 'Độ đục', m_free_chlorine: 'Clo dư',
    m_conductivity: 'Độ dẫn điện', m_temperature: 'Nhiệt độ nước', m_cod: 'COD', m_bod5: 'BOD5', m_tss: 'TSS', m_nh4: 'Amoni (NH4)',
    m_do: 'Oxy hòa tan', m_salinity: 'Độ mặn', m_air_temperature: 'Nhiệt độ không khí', m_humidity: 'Độ ẩm', m_wind_speed: 'Tốc độ gió',
    m_wind_gust: 'Gió giật', m_pressure: 'Áp suất', m_alarm: 'Báo cháy', m_fault: 'Lỗi thiết bị', m_status: 'Trạng thái',
    m_soil_moisture: 'Độ ẩm đất', m_tilt: 'Độ nghiêng', m_crack_width: 'Độ mở vết nứt', m_pore_pressure: 'Áp lực nước lỗ rỗng',
    m_pm25: 'Bụi PM2.5', m_pm10: 'Bụi PM10', m_aqi: 'Chỉ số AQI',
  },
  en: {
    subtitle: 'Intelligent Operations Center', navMap: 'Map', navAlerts: 'Alerts', navCameras: 'Cameras',
    navTrends: 'Trends', navHealth: 'System', mute: 'Mute', unmute: 'Unmute', logout: 'Log out',
    seeAlert: 'See the alert', loginTitle: 'Log in', loginHelp: 'Paste the access token (API key or JWT) your administrator gave you.',
    login: 'Log in', loginFailed: 'The token is wrong or expired.', unacked: 'Unacknowledged', allLive: 'All open',
    severity: 'Severity', alert: 'Alert', district: 'District', state: 'State', since: 'Since', units: 'Units',
    sensors: 'Sensors', metric: 'Metric', range: 'Range', compare: 'Compare', none: 'None', show: 'Show', exportCsv: 'Export CSV',
    kCameras: 'Cameras online', kRivers: 'Rivers over alarm (I / II / III)', kAlerts: 'Open alerts',
    kCritical: 'Critical', kSensors: 'Sensors reporting', kUnacked: 'Unacknowledged',
    sevcritical: 'Critical', sevhigh: 'High', sevmedium: 'Medium', sevlow: 'Low', sevinformational: 'Info',
    stpending: 'Pending', stfiring: 'Firing', stacknowledged: 'Acknowledged', stresolved: 'Resolved',
    ack: 'Acknowledge', assign: 'Assign', comment: 'Comment', resolve: 'Resolve', history: 'History',
    askAssignee: 'Assign to whom?', askComment: 'Comment:', askReason: 'Why is it resolved?', askNote: 'Note (optional):',
    newCritical: 'CRITICAL ALERT', camerasCount: '{n} cameras, {on} online', alertsCount: '{n} alerts',
    online: 'Online', degraded: 'Degraded', offline: 'Offline', unknown: 'Unknown', liveView: 'Live view',
    level: 'Alarm', noData: 'No data yet', pickSensor: 'Pick at least one sensor.', before: 'earlier period',
    healthChecks: 'Components', up: 'up', down: 'down', version: 'Version', liveOn: 'Live channel: connected',
    liveOff: 'Live channel: disconnected', role: 'Role', lastValue: 'Latest value', legendSensor: 'Sensor',
    legendAlarm: 'Over alarm', legendCamera: 'Camera', legendStale: 'Silent', kpiCity: 'Province', saved: 'File saved',
    forbidden: 'Your role may not do this.', failed: 'Could not do it',
    evpending: 'Pending', evfiring: 'Fired', evupdated: 'Severity changed', evacknowledged: 'Acknowledged',
    evassigned: 'Assigned', evcommented: 'Comment', evescalated: 'Escalated', evresolved: 'Resolved', evreported: 'Report joined',
    simulatedHelp: 'Simulated data, not the real province; the clock runs {x} times as fast.',
    actorengine: 'system', deadLetters: 'Rejected data', dlReason: 'Reason', dlHour: '1 h', dlDay: '24 h',
    dlLatest: 'Latest', dlNone: 'No data rejected in 24 hours.', alarmLine: 'Alarm',
    legendDistrict: 'Districts by their highest alert',
    suspect: 'Suspect', suspectHelp: 'A reading implausible for its station (too fast a change, far outside its range, or unlike the gauges nearby); check it before warning the public.',
    capDraft: 'Public warning waiting for approval', capApprovals: 'Approved {n}/{m}', capApprove: 'Approve and publish', capReject: 'Do not publish',
    capStatusExercise: 'EXERCISE', capStatusTest: 'TEST', capStatusActual: 'REAL', capAskReject: 'Why is it not published?',
    silencesTitle: 'Silences', silenceWhat: 'Applies to', silenceUntil: 'Until', silenceAuthor: 'Author', silenceReason: 'Reason',
    silence: 'Silence', silenceEnd: 'End', silenceHours: '{h} h', silenceAsk: 'Why silence it (maintenance, known…)', noSilences: 'No silence in force.',
    silenced: 'Silenced until {t}.', silenceValue: 'Value (district name, sensor id…)',
    rulesTitle: 'Alert rules', rulesReload: 'Reload the rule file', ruleName: 'Rule', ruleKind: 'Kind', ruleCategory: 'Category',
    rulePublic: 'Public warning', rulesReloaded: '{n} rules loaded.', yes: 'yes', no: 'no',
    cat_traffic: 'Traffic', cat_naturalDisaster: 'Natural disaster', cat_weather: 'Weather', cat_environment: 'Environment', cat_health: 'Health',
    cat_security: 'Security', cat_agriculture: 'Agriculture', cat_infrastructure: 'Infrastructure', cat_fireAndEmergency: 'Fire and emergency',
    catSensors: 'Sensor catalog', catCameras: 'Camera catalog', catName: 'Name', catEvery: 'Every',
    screenCameras: 'Cameras', screenAlerts: 'Open alerts', screenNoAlerts: 'No open alert.', screenCamsOff: '{n} cameras not working',
    mapGroup: '{n} stations at one place', zoomIn: 'Zoom in', zoomOut: 'Zoom out', zoomFit: 'Whole province',
    navIncidents: 'Incidents', incident: 'Incident', incOpen: 'Not closed', incWithClosed: 'With those closed today', incSteps: 'Steps',
    incOwner: 'Owner', incnew: 'New', incin_progress: 'In progress', inccontained: 'Contained', incclosed: 'Closed',
    incNone: 'No incidents.', incTake: 'Take it', incToProgress: 'In progress', incToContained: 'Contained', incClose: 'Close the incident',
    incReport: 'Report (print)', incProcedure: 'Response procedure', incNoSteps: 'No procedure for this incident type.', incDue: 'due',
    incOverdue: 'OVERDUE', incOverdueN: '{n} overdue', incDoneBy: 'done by {who} at {t}', incDone: 'Done',
    incAskSummary: 'Closing summary (what happened, damage, what was done):', incAskStepNote: 'A note on this step (optional):',
    clipPlay: 'Play the clip', clipSave: 'Save the clip', clipNone: 'No recording',
    wallLayout: 'Layout', wallCards: 'Status cards', wallPage: 'Page {p}/{n}',
    navReports: 'Reports', legendReport: 'Citizen report being handled', repCategory: 'Category', repAll: 'All', repreceived: 'Received', repin_progress: 'In progress', represolved: 'Resolved',
    reprejected: 'Rejected', repReceived: 'Received', repPlace: 'Place', repText: 'Report', repPhotos: 'Photos', repCount: '{n} reports',
    repNone: 'No reports', repNoPhoto: 'photo not loaded', repTicket: 'Ticket', repContact: 'Contact', repAnswer: 'Answer',
    repTaken: 'taken', repExifAt: 'photo taken {m} m from the reported place',
    repUnits: 'Units', repDue: 'Due', repOverdue: 'overdue', repGroup: 'Group', repGroupOf: '{n} reports of one place', repGroupHint: 'one category, within 50 m and 2 h', repAlert: 'open the alert',
    repCamera: 'Nearest camera', repCameraOpen: 'open the camera wall', repTake: 'Take it', repDoAnswer: 'Answer & close', repReject: 'Reject',
    repAskAnswer: 'The answer the citizen reads by ticket:', repAskReject: 'Why it is rejected (the citizen reads it):', repNotRouted: 'being routed…',
    repStats: 'Statistics', repBy: 'By', repBycategory: 'category', repBydistrict: 'district', repByunit: 'unit', repStatKey: 'Group', repStatN: 'Reports',
    repStatOpen: 'Not taken', repStatOverdue: 'Overdue', repStatResp: 'First response (median)', repStatAns: 'Answer (median)', repStatRange: 'last 30 days',
    livePlay: 'Play video', stillAt: 'Picture at {t}', camEvents: 'Events', camEventsNone: 'No events in the last 24 hours',
    camEventKind: 'Kind', camEventObject: 'Object', camEventTime: 'Time',
    eventKindmotion: 'Motion', eventKindline_crossing: 'Line crossing', eventKindintrusion: 'Intrusion', eventKindobject_count: 'Object count',
    eventKindobject: 'Object', eventKindtamper: 'Tampering', eventKindother: 'Other',
    videoDownNote: 'Live video unavailable: the video server does not answer. Showing the cameras\' stills, trying again every 15 seconds.', liveFailed: 'Live video unavailable', liveNoServer: 'no video server configured',
    liveDown: 'the video server does not answer; states only', liveDenied: 'not allowed to watch this camera', liveNoAnswer: 'the camera does not answer',
    incStepsOpen: '{n} steps to do', incStepsN: '{n} steps', procTitle: 'Incidents: correlations and response procedures', corrName: 'Correlation',
    corrType: 'Incident type', corrMatch: 'Alerts', corrBy: 'Grouped by', corrWindow: 'Window', incAlertsN: '{n} alerts', histIncCount: '{n} incidents', histKind: 'Search', incClosedAt: 'Closed',
    screenIncidents: 'Incidents in progress', screenNoIncidents: 'No incident in progress.',
    handoverIncidents: 'Incidents not closed ({n})', handoverIncidentsThen: 'Incidents not closed at the handover ({n})', handoverNoIncidents: 'No incident is open.',
    navDuty: 'Duty', dutyLog: 'Duty log', dutyWrite: 'Note what happens in the shift (time, place, what was done…)', dutyAdd: 'Write', dutyEmpty: 'Nothing written in this shift yet.',
    handoverTitle: 'Shift handover', handoverNotes: 'Notes for the next shift', handoverDo: 'Hand over the shift', handoverWaiting: '{who} handed over at {t}; waiting for the incoming officer',
    handoverAccept: 'Take over the shift', handoverAcceptNote: 'Note on taking over (optional)', handoverOwn: 'You handed this shift over; the next officer must take it over.',
    handoverLast: 'Last handover: {out} → {in}, taken over at {t}', handoverUnacked: 'Unacknowledged alerts ({n})', handoverNone: 'No unacknowledged alert.',
    handoverAlertsThen: 'Unacknowledged alerts at the handover ({n})', handoverAccepted: 'Shift taken over.',
    navHistory: 'History', histFrom: 'From', histTo: 'To', histText: 'Search the alerts (station, district, reason…)', histSearch: 'Search',
    histFired: 'Fired', histAck: 'Acknowledged after', histResolve: 'Resolved after', histTimes: 'Response times (median)', alertsN: 'Alerts',
    histCount: '{n} alerts',
    navAdmin: 'Admin', keysTitle: 'Access keys (API keys)', keyName: 'Holder', keyUnits: 'Units (police, flood_control…)',
    keySource: 'Source', keyExpires: 'Expires', keyCreate: 'Create key', keyRotate: 'Rotate', keyRevoke: 'Revoke',
    keyToken: 'New token of {id} (shown once, give it to its holder): {token}', keyConfirmRevoke: 'Revoke key {id}? Its token is refused at once.',
    src_config: 'config file', src_api: 'made through the API', ks_active: 'active', ks_expired: 'expired', ks_revoked: 'revoked',
    channels: 'Notification channels', chFailing: 'failed {n} times in a row', chOK: 'working', chUnused: 'nothing sent yet', chLastOK: 'last delivered',
    sharing: 'Data sharing (NGSI-LD)', sh_subscription: 'Subscription', sh_push: 'Push to', shSent: '{n} notifications', shFailing: 'failing', shPaused: 'paused',
    shExpired: 'expired', shNone: 'No agency subscribes to the data yet.',
    deliveries: 'Notifications sent', noDeliveries: 'No notification sent yet.', dlv_ok: 'delivered', dlv_retry: 'failed, will retry',
    dlv_failed: 'failed', dlv_dropped: 'dropped (queue full)', ch_webhook: 'Webhook', ch_email: 'Email', ch_gateway: 'SMS/Zalo', attempt: 'attempt',
    capReleased: 'The warning is on the public feed.', capSecond: 'Another person must approve too (risk level {r}).',
    roleadmin: 'administrator', roleoperator: 'duty officer', roleunit: 'unit', roleanalyst: 'analyst', roleviewer: 'wall screen',
    unit_police: 'Provincial police', unit_traffic_police: 'Traffic police', unit_fire_police: 'Fire police', unit_flood_control: 'Flood control',
    unit_water_utility: 'Water utility', unit_environment: 'Environment dept.', unit_ioc: 'IOC',
    m_water_level: 'Water level', m_discharge: 'Discharge', m_rainfall: 'Rainfall', m_rain_intensity: 'Rain intensity',
    m_vehicle_count: 'Vehicles', m_motorbike_count: 'Motorbikes', m_car_count: 'Cars', m_bus_count: 'Buses', m_truck_count: 'Trucks',
    m_avg_speed: 'Average speed', m_occupancy: 'Occupancy', m_ph: 'pH', m_turbidity: 'Turbidity', m_free_chlorine: 'Free chlorine',
    m_conductivity: 'Conductivity', m_temperature: 'Water temperature', m_cod: 'COD', m_bod5: 'BOD5', m_tss: 'TSS', m_nh4: 'Ammonium (NH4)',
    m_do: 'Dissolved oxygen', m_salinity: 'Salinity', m_air_temperature: 'Air temperature', m_humidity: 'Humidity', m_wind_speed: 'Wind speed',
    m_wind_gust: 'Wind gust', m_pressure: 'Pressure', m_alarm: 'Fire alarm', m_fault: 'Device fault', m_status: 'Status',
    m_soil_moisture: 'Soil moisture', m_tilt: 'Tilt', m_crack_width: 'Crack width', m_pore_pressure: 'Pore pressure',
    m_pm25: 'PM2.5', m_pm10: 'PM10', m_aqi: 'AQI',
  },
};

const S = {
  lang: localStorage.getItem('ioc.lang') || 'vi',
  token: sessionStorage.getItem('ioc.token') || '',
  me: null, ui: null, view: 'map',
  sensors: new Map(),   // id -> catalog entry
  values: new Map(),    // "sensor/metric" -> SensorValue
  cameras: new Map(),   // id -> catalog entry
  camStates: new Map(), // id -> CameraState
  alerts: new Map(),    // id -> Alert
  incidents: [],        // the incidents the caller sees (not closed, and closed within a day)
  playing: new Map(),   // camera id -> its live video in the wall ({el, pc})
  liveErrors: new Map(), // camera id -> why its live video did not play
  stills: new Map(),    // camera id -> its last still {url, video (an MP4 second), at (ms)}
  stillLoading: new Set(), videoDown: 0, // when MediaMTX last did not answer (ms)
  kpi: null, outlines: null, ws: null, wsRetry: 0, muted: false, selected: null,
  seenCritical: new Set(), audio: null,
  mapView: { k: 1, dx: 0, dy: 0 }, // the main map's zoom and pan
  clock: null, // the server's clock: {base ms, at (local ms), speed}
};

// serverNow is the server's time in ms: a simulated province's clock may run faster than real
// time, and what is recent, the trends' range and the header's clock follow it.
function serverNow() {
  const c = S.clock;
  return c ? c.base + (Date.now() - c.at) * c.speed : Date.now();
}

// syncClock sets the server's clock from a time it sent (its UI config, each KPI update).
function syncClock(iso) {
  const base = Date.parse(iso);
  if (Number.isNaN(base)) return;
  S.clock = { base, at: Date.now(), speed: (S.ui && S.ui.simulation && S.ui.simulation.speed) || 1 };
}

const $ = (sel) => document.querySelector(sel);
const t = (k, vars) => {
  let s = (I18N[S.lang] && I18N[S.lang][k]) || I18N.vi[k] || k;
  for (const [n, v] of Object.entries(vars || {})) s = s.replace('{' + n + '}', v);
  return s;
};
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const fmtTime = (iso) => iso ? new Intl.DateTimeFormat(S.lang === 'en' ? 'en-GB' : 'vi-VN', {
  timeZone: TZ, day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
}).format(new Date(iso)) : '';
const fmtNum = (v, d = 2) => v == null ? '–' : new Intl.NumberFormat(S.lang === 'en' ? 'en-GB' : 'vi-VN', { maximumFractionDigits: d }).format(v);
const text = (tx) => (tx && (S.lang === 'en' && tx.en ? tx.en : tx.vi)) || '';
// Why a camera is not online (streams' reasons).
const REASONS = {
  vi: { auth_failed: 'sai mật khẩu', timeout: 'hết thời gian chờ', refused: 'từ chối kết nối', not_found: 'không có luồng', bad_sdp: 'SDP lỗi',
    no_video_track: 'không có hình', stalled: 'luồng bị treo', low_fps: 'khung hình/giây thấp', low_bitrate: 'bitrate thấp', packet_loss: 'mất gói',
    wrong_codec: 'sai codec', wrong_resolution: 'sai độ phân giải', bad_metadata: 'metadata lỗi', session_ended: 'phiên kết thúc' },
  en: { auth_failed: 'wrong password', timeout: 'timed out', refused: 'connection refused', not_found: 'no such stream', bad_sdp: 'broken SDP',
    no_video_track: 'no video', stalled: 'stream stalled', low_fps: 'low frame rate', low_bitrate: 'low bitrate', packet_loss: 'packet loss',
    wrong_codec: 'wrong codec', wrong_resolution: 'wrong resolution', bad_metadata: 'broken metadata', session_ended: 'session ended' },
};
// inLang is a lookup of ids in a per-language table, the id itself where it has none.
const inLang = (table) => (id) => table[S.lang][id] || id;
const reason = inLang(REASONS);
// label translates an id (a metric, a unit, a role) by its key, or shows the id itself when no
// translation has it.
const label = (prefix, id) => { const k = prefix + id; const s = t(k); return s === k ? id : s; };
const metricName = (m) => label('m_', m);
const unitNames = (units) => (units || []).map((u) => label('unit_', u)).join(', ');
// An event's reason in the operator's language: the engine writes both, a person's words stand.
const eventReason = (e) => (S.lang === 'en' && e.reason_en) || e.reason;
const can = (perm) => !!(S.me && (S.me.permissions || []).includes(perm));
// openAlerts are the alerts someone must see: firing or acknowledged, not pending. The KPIs,
// the map's list and the health page all count these.
const openAlerts = () => [...S.alerts.values()].filter((a) => a.state === 'firing' || a.state === 'acknowledged');
const sevRank = { informational: 0, low: 1, medium: 2, high: 3, critical: 4 };

// ---- API -------------------------------------------------------------------------------
async function api(path, opts = {}) {
  const headers = { Authorization: 'Bearer ' + S.token };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(API + path, { method: opts.method || 'GET', headers, body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined });
  if (resp.status === 401) { showLogin(t('loginFailed')); throw new Error('unauthenticated'); }
  if (opts.raw) { if (!resp.ok) throw new Error(resp.status); return resp; }
  const body = resp.status === 204 ? null : await resp.json();
  if (!resp.ok) {
    const msg = body ? (S.lang === 'en' ? body.message_en : body.message_vi) + (body.detail ? ' — ' + body.detail : '') : resp.status;
    throw new Error(msg);
  }
  return body;
}

async function all(path) { // every page of a list
  const out = [];
  for (let offset = 0; ; offset += 1000) {
    const sep = path.includes('?') ? '&' : '?';
    const pg = await api(path + sep + 'limit=1000&offset=' + offset);
    out.push(...pg.items);
    if (out.length >= pg.total || pg.items.length === 0) return out;
  }
}

// ---- login -----------------------------------------------------------------------------
function showLogin(msg) {
  $('#login-error').textContent = msg || '';
  if (!$('#login').open) $('#login').showModal();
}

async function login(token) {
  S.token = token.trim();
  try {
    S.me = await api('/me');
  } catch (e) {
    showLogin(t('loginFailed'));
    return;
  }
  sessionStorage.setItem('ioc.token', S.token);
  $('#login').close();
  await start();
}

function logout() {
  sessionStorage.removeItem('ioc.token');
  S.token = ''; S.me = null;
  if (S.ws) S.ws.close();
  location.hash = '';
  location.reload();
}

// ---- start and live hub ------------------------------------------------------------------
// showWho names the user, their role and units in the current language; the tabs follow what
// the role may do.
function showWho() {
  if (!S.me) return;
  $('#who').textContent = S.me.name + ' · ' + label('role', S.me.role) + (S.me.units ? ' (' + unitNames(S.me.units) + ')' : '');
  $('#nav a[data-view=trends]').classList.toggle('hidden', !can('history'));
  $('#nav a[data-view=admin]').classList.toggle('hidden', !can('administer'));
  $('#nav a[data-view=history]').classList.toggle('hidden', !can('history'));
  $('#nav a[data-view=duty]').classList.toggle('hidden', !can('duty'));
}

async function start() {
  showWho();
  const [ui, sensors, cameras, outlines] = await Promise.all([api('/ui/config'), all('/sensors'), all('/cameras'), api('/districts/outlines')]);
  S.ui = ui; S.outlines = outlines;
  syncClock(ui.now);
  showSimulation();
  for (const s of sensors) { S.sensors.set(s.id, s); for (const v of s.latest) S.values.set(v.sensor + '/' + v.metric, v); }
  for (const c of cameras) { S.cameras.set(c.id, c); if (c.state) S.camStates.set(c.id, c.state); }
  fillTrendForm();
  connect();
  route();
  setInterval(() => { if (S.view === 'map') drawMap(); if (S.view === 'screen') drawScreen(); }, 5000);
  setInterval(() => { if (S.view === 'screen') nextSlide(); }, screenEvery() * 1000);
  setInterval(() => { if (S.view === 'incidents' || S.view === 'screen') loadIncidents(); }, 15000);
  setInterval(refreshStills, STILL_EVERY);
  const reports = () => (S.ui.citizen_categories || []).length > 0; // the server takes citizen reports
  setInterval(() => { if (reports() && (S.view === 'reports' || S.view === 'map')) loadReports(); }, 15000);
  loadIncidents();
  showReportsTab();
  if (reports()) loadReports();
}

function topics() {
  const tp = ['kpi', 'sensors', 'cameras'];
  if (S.me.role === 'unit') for (const u of S.me.units) tp.push('alerts.unit.' + u);
  else tp.push('alerts');
  return tp;
}

function connect() {
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + API + '/live');
  S.ws = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: S.token }));
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    switch (m.type) {
      case 'welcome': ws.send(JSON.stringify({ type: 'subscribe', topics: topics() })); S.wsRetry = 0; setLive(true); break;
      case 'snapshot': case 'update': apply(m.items, m.type === 'snapshot'); break;
      case 'error': if (m.code === 'unauthenticated') showLogin(t('loginFailed')); break;
    }
  };
  ws.onclose = () => {
    setLive(false);
    if (!S.token) return;
    S.wsRetry = Math.min(S.wsRetry + 1, 6);
    setTimeout(connect, 500 * 2 ** S.wsRetry);
  };
}

function setLive(on) {
  $('#live-state').className = 'dot ' + (on ? 'on' : 'off');
  $('#live-state').title = t(on ? 'liveOn' : 'liveOff');
}

function apply(items, snapshot) {
  let alertsChanged = false;
  for (const it of items) {
    switch (it.kind) {
      case 'reading': S.values.set(it.data.sensor + '/' + it.data.metric, it.data); break;
      case 'camera': S.camStates.set(it.data.camera, it.data); break;
      case 'kpi': S.kpi = it.data; syncClock(it.data.time); break;
      case 'alert': {
        const a = it.data.alert;
        alertsChanged = true;
        // the banner leaves once its alert is no longer critical and waiting (resolved, taken)
        if ($('#alarm').dataset.alert === a.id && !(a.state === 'firing' && a.severity === 'critical')) clearAlarm();
        if (a.state === 'resolved') { S.alerts.delete(a.id); break; }
        S.alerts.set(a.id, a);
        if (a.severity === 'critical' && a.state === 'firing' && !S.seenCritical.has(a.id)) {
          S.seenCritical.add(a.id);
          if (!snapshot) raiseAlarm(a);
        }
        break;
      }
    }
  }
  if (alertsChanged) {
    renderAlerts(); updateUnacked(); if (S.selected && S.alerts.has(S.selected)) showDetail(S.selected);
    // an alert's change may open, join or contain an incident: read them again shortly
    clearTimeout(S.incTimer); S.incTimer = setTimeout(loadIncidents, 700);
  }
  if (S.view === 'map') { drawKPIs(); drawMap(); }
  if (S.view === 'screen') drawScreen();
  if (S.view === 'cameras') drawWall();
}

// ---- alarm -------------------------------------------------------------------------------
function raiseAlarm(a) {
  $('#alarm-text').textContent = t('newCritical') + ': ' + text(a.title) + ' — ' + a.district;
  $('#alarm').classList.remove('hidden');
  $('#alarm').dataset.alert = a.id;
  if (!S.muted) beep();
}

function clearAlarm() {
  $('#alarm').classList.add('hidden');
  delete $('#alarm').dataset.alert;
}

function beep() {
  try {
    S.audio = S.audio || new AudioContext();
    const ctx = S.audio, now = ctx.currentTime;
    for (let i = 0; i < 3; i++) {
      const o = ctx.createOscillator(), g = ctx.createGain();
      o.type = 'square'; o.frequency.value = i % 2 ? 660 : 880;
      g.gain.setValueAtTime(0.15, now + i * 0.35); g.gain.setValueAtTime(0, now + i * 0.35 + 0.25);
      o.connect(g).connect(ctx.destination); o.start(now + i * 0.35); o.stop(now + i * 0.35 + 0.3);
    }
  } catch (e) { /* no audio device: the banner still blinks */ }
}

function updateUnacked() {
  const n = [...S.alerts.values()].filter((a) => a.state === 'firing').length;
  $('#nav-unacked').textContent = n;
  $('#nav-unacked').classList.toggle('hidden', n === 0);
}

// ---- views ---------------------------------------------------------------------------------
function route() {
  const v = (location.hash || (S.me && S.me.role === 'viewer' ? '#screen' : '#map')).slice(1); // the wall screen is the viewer's default
  S.view = ['map', 'screen', 'alerts', 'incidents', 'reports', 'cameras', 'trends', 'history', 'duty', 'health', 'admin'].includes(v) && ((v !== 'trends' && v !== 'history') || !S.me || can('history')) &&
    (v !== 'admin' || !S.me || can('administer')) && (v !== 'duty' || !S.me || can('duty')) ? v : 'map';
  for (const el of document.querySelectorAll('.view')) el.classList.toggle('hidden', el.id !== 'view-' + S.view);
  if (S.view !== 'cameras') for (const id of [...S.playing.keys()]) stopLive(id); // only what is seen plays
  document.body.classList.toggle('wallscreen', S.view === 'screen');
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.view === S.view);
  if (!S.me) return;
  if (S.view === 'map') { drawKPIs(); drawMap(); }
  if (S.view === 'screen') drawScreen();
  if (S.view === 'alerts') { renderAlerts(); drawSilences(); }
  if (S.view === 'incidents' || S.view === 'screen') loadIncidents();
  if (S.view === 'reports') loadReports();
  if (S.view === 'cameras') {
    drawWall();
    if (S.wantLive && !S.playing.has(S.wantLive)) playLive(S.wantLive);
    S.wantLive = null;
  }
  if (S.view === 'health') drawHealth();
  if (S.view === 'admin') { drawKeys(); drawRules(); drawProcedures(); drawCatalogs(); }
  if (S.view === 'history') searchHistory();
  if (S.view === 'duty') drawDuty();
}

function translate() {
  document.documentElement.lang = S.lang;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of document.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  $('#lang').textContent = S.lang === 'vi' ? 'English' : 'Tiếng Việt';
  $('#mute').textContent = t(S.muted ? 'unmute' : 'mute');
  $('#token').placeholder = 'ioc_…';
  showSimulation();
  showWho();
  if (S.me) route();
}

// KPI tiles: figures of the whole province from the server, alert counts of the alerts this
// user sees.
function drawKPIs(el = $('#kpis')) {
  const k = S.kpi || { cameras_online: 0, cameras_total: S.cameras.size, rivers_over_alarm: [0, 0, 0], sensors_reporting: 0, sensors: S.sensors.size };
  const open = openAlerts();
  const tiles = [
    ['k-cameras', t('kCameras'), k.cameras_online + ' / ' + k.cameras_total],
    ['k-rivers', t('kRivers'), k.rivers_over_alarm.join(' / ')],
    ['k-alerts', t('kAlerts'), open.length],
    ['k-critical', t('kCritical'), open.filter((a) => a.severity === 'critical').length],
    ['k-unacked', t('kUnacked'), open.filter((a) => a.state === 'firing').length],
    ['k-sensors', t('kSensors'), k.sensors_reporting + ' / ' + k.sensors],
  ];
  el.innerHTML = tiles.map(([id, l, v]) => `<div class="kpi" ${el.id === 'kpis' ? 'id="' + id + '"' : 'data-kpi="' + id + '"'}><div class="v">${esc(v)}</div><div class="l">${esc(l)}</div></div>`).join('');
}

// ---- map (Web Mercator, so that an optional tile server's tiles line up) ---------------------
function merc(lat, lon) {
  const s = Math.sin(lat * Math.PI / 180);
  return [(lon + 180) / 360, 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)];
}

function svg(tag, attrs, parent) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (parent) parent.appendChild(el);
  return el;
}

function levelColor(v, stale) {
  if (stale) return '#6e7681';
  return ['#2ea043', '#d29922', '#f0883e', '#e5534b'][v ? v.alarm || 0 : 0];
}

// tileHref shows a map tile: from the closed network's tile server as it is, from ioc's own
// archive (under the API) fetched with the token and shown from memory.
const tileCache = new Map(); // API tile URL -> object URL ('' for none), or its fetch under way
function tileHref(img, url) {
  if (!url.startsWith(API)) { img.setAttribute('href', url); return; }
  let c = tileCache.get(url);
  if (typeof c === 'string') { if (c) img.setAttribute('href', c); return; }
  if (!c) {
    if (tileCache.size > 2000) { for (const u of tileCache.values()) if (typeof u === 'string' && u) URL.revokeObjectURL(u); tileCache.clear(); }
    c = fetch(url, { headers: { Authorization: 'Bearer ' + S.token } }).then((r) => r.ok ? r.blob() : null)
      .then((b) => { const u = b ? URL.createObjectURL(b) : ''; tileCache.set(url, u); return u; }, () => { tileCache.delete(url); return ''; });
    tileCache.set(url, c);
  }
  c.then((u) => { if (u) img.setAttribute('href', u); });
}

// districtFeatures are the outlines' districts (features without a level are districts).
const districtFeatures = () => (S.outlines ? S.outlines.features : []).filter((f) => (f.properties.level || 'district') === 'district');
// outerRings are a Polygon's or a MultiPolygon's outer rings, [lon, lat].
const outerRings = (f) => f.geometry.type === 'MultiPolygon' ? f.geometry.coordinates.map((p) => p[0]) : [f.geometry.coordinates[0]];

function drawMap(el = $('#map')) {
  const W = el.clientWidth || 1200, H = el.clientHeight || 700;
  el.setAttribute('viewBox', `0 0 ${W} ${H}`);
  el.innerHTML = '';
  const pts = [];
  for (const f of districtFeatures()) for (const ring of outerRings(f)) for (const [lon, lat] of ring) pts.push(merc(lat, lon));
  for (const s of S.sensors.values()) pts.push(merc(s.location.lat, s.location.lon));
  for (const c of S.cameras.values()) pts.push(merc(c.location.lat, c.location.lon));
  if (!pts.length) return;
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [x, y] of pts) { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y); }
  // the province fitted to the element, then the user's zoom and pan (the main map only)
  const view = el.id === 'map' ? S.mapView : { k: 1, dx: 0, dy: 0 };
  const pad = 30, fit = Math.min((W - 2 * pad) / (x1 - x0 || 1e-4), (H - 2 * pad) / (y1 - y0 || 1e-4)), scale = fit * view.k;
  const ox = W / 2 + view.dx - ((x0 + x1) / 2 - x0) * scale, oy = H / 2 + view.dy - ((y0 + y1) / 2 - y0) * scale;
  const P = (lat, lon) => { const [x, y] = merc(lat, lon); return [ox + (x - x0) * scale, oy + (y - y0) * scale]; };

  if (S.ui && S.ui.tile_url) { // tiles of the zoom whose pixel size is closest to ours
    const z = Math.max(0, Math.min(18, Math.round(Math.log2(scale / 256))));
    const n = 2 ** z, size = scale / n;
    // the tiles in view (zoomed in, a few dozen, not the whole province's)
    const cell = (base, px) => Math.min(n - 1, Math.max(0, Math.floor((base + px / scale) * n))); // the tile under pixel px
    for (let tx = cell(x0, -ox); tx <= cell(x0, W - ox); tx++) {
      for (let ty = cell(y0, -oy); ty <= cell(y0, H - oy); ty++) {
        const url = S.ui.tile_url.replace('{z}', z).replace('{x}', tx).replace('{y}', ty);
        tileHref(svg('image', { x: ox + (tx / n - x0) * scale, y: oy + (ty / n - y0) * scale, width: size, height: size, opacity: 0.55, class: 'tile' }, el), url);
      }
    }
  }
  // each district is coloured by its highest open alert, on the legend's severity scale
  const worst = new Map();
  for (const a of openAlerts()) if (sevRank[a.severity] > (sevRank[worst.get(a.district)] ?? -1)) worst.set(a.district, a.severity);
  for (const f of districtFeatures()) {
    const g = svg('g', {}, el);
    const sev = worst.get(f.properties.name);
    const rings = outerRings(f).map((r) => r.map(([lon, lat]) => P(lat, lon)));
    for (const ring of rings) svg('polygon', { points: ring.map((p) => p.join(',')).join(' '), class: 'district' + (sev ? ' d-' + sev : ''), 'data-district': f.properties.name }, g);
    const ring = rings[0]; // the largest part carries the label
    const cx = ring.reduce((a, p) => a + p[0], 0) / ring.length, cy = ring.reduce((a, p) => a + p[1], 0) / ring.length;
    svg('text', { x: cx, y: cy, class: 'dlabel' }, g).textContent = f.properties.name;
  }
  // the communes' outlines over the districts; their names once zoomed in enough to read them
  for (const f of (S.outlines ? S.outlines.features : []).filter((f) => f.properties.level === 'commune')) {
    const ring = outerRings(f)[0].map(([lon, lat]) => P(lat, lon));
    svg('polygon', { points: ring.map((p) => p.join(',')).join(' '), class: 'commune', 'data-commune': f.properties.name, 'data-of-district': f.properties.district }, el);
    if (view.k >= 3) {
      const cx = ring.reduce((a, p) => a + p[0], 0) / ring.length, cy = ring.reduce((a, p) => a + p[1], 0) / ring.length;
      svg('text', { x: cx, y: cy + 14, class: 'clabel' }, el).textContent = f.properties.name;
    }
  }
  const now = serverNow();
  const marks = [...S.sensors.values()].map((s) => {
    const vals = s.metrics.map((m) => S.values.get(s.id + '/' + m)).filter(Boolean);
    const v = vals.sort((a, b) => (b.alarm || 0) - (a.alarm || 0))[0];
    // silent after the server's silent_after_s (ten minutes when the catalog gives no interval),
    // as the KPIs and the absence rules count; never within 10 s of wall time, which a fast
    // simulated clock makes hours (values reach the map at most every second and it redraws every 5)
    const limit = Math.max(s.silent_after_s ? s.silent_after_s * 1000 : 10 * 60 * 1000, 10e3 * (S.clock ? S.clock.speed : 1));
    return { s, v, stale: !v || now - new Date(v.time).getTime() > limit };
  });
  // the highest alarm on top: a river gauge over báo động is not hidden under the rain gauge beside it
  marks.sort((a, b) => (a.stale ? -1 : (a.v.alarm || 0)) - (b.stale ? -1 : (b.v.alarm || 0)));
  // markers closer than a marker's size are one group: its count in the colour of its highest
  // alarm, listed on click (zooming in takes them apart)
  const groups = [];
  for (const m of marks) {
    [m.x, m.y] = P(m.s.location.lat, m.s.location.lon);
    const g = groups.find((g) => Math.hypot(g.x - m.x, g.y - m.y) < 14);
    if (g) g.marks.push(m); else groups.push({ x: m.x, y: m.y, marks: [m] });
  }
  for (const g of groups) {
    if (g.marks.length === 1) {
      const { s, v, stale, x, y } = g.marks[0];
      const c = svg('circle', { cx: x, cy: y, r: v && v.alarm ? 9 : 6, fill: levelColor(v, stale), class: 'sensor', 'data-sensor': s.id }, el);
      svg('title', {}, c).textContent = s.name + (v ? ' — ' + fmtNum(v.value) + ' ' + v.unit : '');
      c.addEventListener('click', () => sideSensor(s.id));
      continue;
    }
    const top = g.marks[g.marks.length - 1]; // the highest alarm: marks are sorted so
    const ids = g.marks.map((m) => m.s.id);
    const gr = svg('g', { class: 'group', 'data-count': ids.length, 'data-sensors': ids.join(' ') }, el);
    svg('circle', { cx: g.x, cy: g.y, r: 12, fill: levelColor(top.v, top.stale) }, gr);
    svg('text', { x: g.x, y: g.y + 5 }, gr).textContent = ids.length;
    svg('title', {}, gr).textContent = g.marks.map((m) => m.s.name).join('\n');
    gr.addEventListener('click', () => sideGroup(ids));
  }
  for (const cam of S.cameras.values()) {
    const st = S.camStates.get(cam.id);
    const [x, y] = P(cam.location.lat, cam.location.lon);
    const color = { online: '#2ea043', degraded: '#d29922', offline: '#e5534b' }[st ? st.state : ''] || '#6e7681';
    const r = svg('rect', { x: x - 5, y: y - 5, width: 10, height: 10, fill: color, class: 'camera', 'data-camera': cam.id }, el);
    svg('title', {}, r).textContent = cam.name + ' — ' + t(st ? st.state : 'unknown');
    if (S.ui && S.ui.video && el.id === 'map') r.addEventListener('click', () => openCamera(cam.id)); // the camera's live view
  }
  if (el.id === 'map') for (const r of S.reports || []) { // citizen reports not yet handled: a diamond each
    if (r.state !== 'received' && r.state !== 'in_progress') continue;
    const [x, y] = P(r.location.lat, r.location.lon);
    const d = svg('polygon', { points: `${x},${y - 7} ${x + 7},${y} ${x},${y + 7} ${x - 7},${y}`, class: 'report rep-' + r.state, 'data-report': r.id }, el);
    svg('title', {}, d).textContent = repCategory(r.category) + ' — ' + r.description.slice(0, 80);
    d.addEventListener('click', () => { S.repSelected = r.id; location.hash = '#reports'; });
  }
  for (const a of S.alerts.values()) {
    if (a.state === 'pending' || !a.location || !a.location.lat) continue;
    const [x, y] = P(a.location.lat, a.location.lon);
    svg('circle', { cx: x, cy: y, r: 16, class: 'ring', 'data-alert': a.id }, el);
  }
  $('#legend').innerHTML = `<span><i style="background:#2ea043"></i>${t('legendSensor')}</span><span><i style="background:#e5534b"></i>${t('legendAlarm')}</span>` +
    `<span><i style="background:#6e7681"></i>${t('legendStale')}</span><span><i style="background:#2ea043;border-radius:0"></i>${t('legendCamera')}</span>` +
    ((S.reports || []).length ? `<span><i class="legend-report"></i>${t('legendReport')}</span>` : '') +
    `<span>${t('legendDistrict')}:</span>` + ['critical', 'high', 'medium', 'low'].map((sv) => `<span><i class="d-${sv}"></i>${t('sev' + sv)}</span>`).join('');
  if (!$('#map-side').dataset.sensor) sideAlerts();
}

function sideAlerts() {
  const list = openAlerts().sort((a, b) => sevRank[b.severity] - sevRank[a.severity]);
  $('#map-side').innerHTML = `<h3>${t('kAlerts')} (${list.length})</h3>` + list.slice(0, 30).map((a) =>
    `<div class="item"><span class="sev sev-${a.severity}">${t('sev' + a.severity)}</span> ${esc(text(a.title))}<div class="note">${esc(a.district)} · ${fmtTime(a.starts_at)}</div></div>`).join('');
}

// sideGroup lists the sensors of a map group, each opened on click.
function sideGroup(ids) {
  const side = $('#map-side');
  side.dataset.sensor = ids.join(' ');
  side.innerHTML = `<h3>${t('mapGroup', { n: ids.length })}</h3>` + ids.map((id) => { const s = S.sensors.get(id);
    return `<div class="item" data-group-sensor="${esc(id)}"><a href="#map">${esc(s.name)}</a><div class="note">${esc(s.district)}</div></div>`; }).join('') +
    `<p><button type="button" id="side-back">←</button></p>`;
  for (const el of side.querySelectorAll('[data-group-sensor]')) el.onclick = (ev) => { ev.preventDefault(); sideSensor(el.dataset.groupSensor); };
  $('#side-back').onclick = () => { delete side.dataset.sensor; sideAlerts(); };
}

// Zoom with the wheel (around the pointer) or the +/− buttons, pan by dragging; ⌂ fits the
// province again.
function zoomMap(f, px, py) {
  const el = $('#map'), W = el.clientWidth || 1200, H = el.clientHeight || 700, v = S.mapView;
  const k = Math.min(64, Math.max(1, v.k * f)), r = k / v.k;
  px = px ?? W / 2; py = py ?? H / 2;
  // the point under the pointer stays under it
  v.dx = (v.dx + W / 2 - px) * r + px - W / 2; v.dy = (v.dy + H / 2 - py) * r + py - H / 2; v.k = k;
  if (k === 1) v.dx = v.dy = 0;
  drawMap();
}

function setupMapControls() {
  const el = $('#map');
  el.addEventListener('wheel', (ev) => { ev.preventDefault(); const b = el.getBoundingClientRect(); zoomMap(ev.deltaY < 0 ? 1.5 : 1 / 1.5, ev.clientX - b.left, ev.clientY - b.top); }, { passive: false });
  let drag = null;
  el.addEventListener('pointerdown', (ev) => { if (ev.target.closest('.sensor, .group, .camera')) return; drag = { x: ev.clientX, y: ev.clientY }; });
  window.addEventListener('pointermove', (ev) => {
    if (!drag) return;
    S.mapView.dx += ev.clientX - drag.x; S.mapView.dy += ev.clientY - drag.y; drag = { x: ev.clientX, y: ev.clientY };
    drawMap();
  });
  window.addEventListener('pointerup', () => { drag = null; });
  $('#map-zoom-in').onclick = () => zoomMap(1.5);
  $('#map-zoom-out').onclick = () => zoomMap(1 / 1.5);
  $('#map-zoom-fit').onclick = () => { S.mapView = { k: 1, dx: 0, dy: 0 }; drawMap(); };
}

function sideSensor(id) {
  const s = S.sensors.get(id);
  const side = $('#map-side');
  side.dataset.sensor = id;
  const rows = s.metrics.map((m) => { const v = S.values.get(id + '/' + m); return `<div class="row"><span>${esc(metricName(m))}</span><span>${v ? fmtNum(v.value) + ' ' + esc(v.unit) + (v.alarm ? ' · ' + t('level') + ' ' + ['I', 'II', 'III'][v.alarm - 1] : '') : '–'}</span></div><div class="note">${v ? fmtTime(v.time) : t('noData')}</div>`; }).join('');
  side.innerHTML = `<h3>${esc(s.name)}</h3><div class="note">${esc(s.id)} · ${esc(s.district)}</div>${rows}<p><button type="button" id="side-back">←</button> <button type="button" id="side-trend">${t('navTrends')}</button></p>`;
  $('#side-back').onclick = () => { delete side.dataset.sensor; sideAlerts(); };
  $('#side-trend').onclick = () => { for (const o of $('#trend-sensors').options) o.selected = o.value === id; syncMetrics(); location.hash = '#trends'; showTrend(); };
}

// ---- alert console ---------------------------------------------------------------------------
function canAct() { return S.me && ['admin', 'operator', 'unit'].includes(S.me.role); }

function renderAlerts() {
  const onlyOpen = document.querySelector('input[name=af]:checked').value === 'open';
  const list = [...S.alerts.values()].filter((a) => !onlyOpen || a.state === 'firing')
    .sort((a, b) => sevRank[b.severity] - sevRank[a.severity] || b.starts_at.localeCompare(a.starts_at));
  $('#alerts-count').textContent = t('alertsCount', { n: list.length });
  $('#alerts-table tbody').innerHTML = list.map((a) => `<tr data-alert="${esc(a.id)}" class="${a.id === S.selected ? 'sel' : ''}">
    <td><span class="sev sev-${a.severity}">${t('sev' + a.severity)}</span></td>
    <td>${esc(text(a.title))}${a.suspect ? ` <span class="suspect" title="${esc(t('suspectHelp'))}">${t('suspect')}</span>` : ''}<div class="note">${esc(a.subject_name || a.subject)}</div></td>
    <td>${esc(a.district)}</td><td class="st-${a.state}">${t('st' + a.state)}${a.assignee ? '<div class="note">→ ' + esc(a.assignee) + '</div>' : ''}</td>
    <td>${fmtTime(a.starts_at)}</td><td>${esc(unitNames(a.units))}</td>
    <td>${canAct() && a.state === 'firing' ? `<button type="button" class="primary" data-act="acknowledge" data-id="${esc(a.id)}">${t('ack')}</button>` : ''}</td></tr>`).join('');
}

async function act(id, what, ident) {
  let body;
  switch (what) {
    case 'cap/approve': body = { identifier: ident }; break;
    case 'cap/reject': { const n = prompt(t('capAskReject'), ''); if (!n) return; body = { identifier: ident, reason: n }; break; }
    case 'acknowledge': { const n = prompt(t('askNote'), ''); if (n === null) return; body = { note: n }; break; }
    case 'assign': { const n = prompt(t('askAssignee'), ''); if (!n) return; body = { assignee: n }; break; }
    case 'comments': { const n = prompt(t('askComment'), ''); if (!n) return; body = { text: n }; break; }
    case 'resolve': { const n = prompt(t('askReason'), ''); if (!n) return; body = { reason: n }; break; }
  }
  try {
    const a = await api('/alerts/' + encodeURIComponent(id) + '/' + what, { method: 'POST', body });
    if (what.startsWith('cap/')) { // the answer is the draft, not the alert
      S.notice = a && a.released ? t('capReleased') : '';
      showDetail(id);
      return;
    }
    S.alerts.set(a.id, a); // the hub confirms within a flush; show it at once
    renderAlerts(); updateUnacked();
    if (S.selected === id) showDetail(id);
  } catch (e) {
    alert(t('failed') + ': ' + e.message);
  }
}

async function showDetail(id) {
  S.selected = id;
  const panel = $('#alert-detail');
  panel.classList.remove('hidden');
  $('#view-alerts .split').classList.add('open');
  const seq = S.detailSeq = (S.detailSeq || 0) + 1; // a later showDetail wins over a slower earlier one
  let d;
  try { d = await api('/alerts/' + encodeURIComponent(id)); } catch (e) { if (seq === S.detailSeq) panel.textContent = e.message; return; }
  if (seq !== S.detailSeq) return;
  const a = d.alert;
  if (S.noticeFor !== id) S.notice = ''; // a notice belongs to the alert it was given on
  S.noticeFor = id;
  const buttons = canAct() && a.state !== 'resolved' ? `<div class="actions">
    ${a.state === 'firing' ? `<button type="button" class="primary" data-act="acknowledge" data-id="${esc(id)}">${t('ack')}</button>` : ''}
    <button type="button" data-act="assign" data-id="${esc(id)}">${t('assign')}</button>
    <button type="button" data-act="comments" data-id="${esc(id)}">${t('comment')}</button>
    <button type="button" class="danger" data-act="resolve" data-id="${esc(id)}">${t('resolve')}</button></div>` : '';
  panel.innerHTML = `<h3><span class="sev sev-${a.severity}">${t('sev' + a.severity)}</span> ${esc(text(a.title))}</h3>
    <p>${esc(text(a.description))}</p>
    <div class="row"><span>${t('state')}</span><span class="st-${a.state}">${t('st' + a.state)}</span></div>
    <div class="row"><span>${t('district')}</span><span>${esc(a.district)}</span></div>
    <div class="row"><span>${t('units')}</span><span>${esc(unitNames(a.units))}</span></div>
    <div class="row"><span>${t('since')}</span><span>${fmtTime(a.starts_at)}</span></div>
    ${a.suspect ? `<p class="suspect-note"><span class="suspect">${t('suspect')}</span> ${esc(t('suspectHelp'))}</p>` : ''}
    ${d.cap_draft ? capDraft(id, d.cap_draft) : ''}${S.notice ? `<p class="notice">${esc(S.notice)}</p>` : ''}
    ${a.source === 'camera' && S.ui && S.ui.video ? `<p><button type="button" data-clip="${esc(a.subject)}" data-at="${esc(a.starts_at)}">${t('clipPlay')}</button>
      ${S.me.role === 'admin' || (S.me.role === 'unit' && S.me.units.some((u) => (S.ui.clip_download_units || []).includes(u))) ? `<button type="button" data-clip-download="${esc(a.subject)}" data-at="${esc(a.starts_at)}">${t('clipSave')}</button>` : ''}
      <span class="note" id="clip-msg"></span></p><div id="clip-box"></div>` : ''}
    ${can('silence') && a.state !== 'resolved' ? silenceForm(a) : ''}
    ${buttons}<h3>${t('history')}</h3><ul class="history">${d.events.slice().reverse().map((e) =>
      `<li>${fmtTime(e.time)} · <b>${esc(t('ev' + e.kind))}</b> · ${esc(label('actor', e.actor))}${e.reason ? '<div class="note">' + esc(eventReason(e)) + '</div>' : ''}</li>`).join('')}</ul>
    <h3>${t('deliveries')}</h3>${deliveries(d.deliveries || [])}`;
  renderAlerts();
}

// silenceForm mutes an alert's rule for its subject for a few hours, with a reason.
function silenceForm(a) {
  return `<form class="silence-form toolbar wrap" data-rule="${esc(a.rule)}" data-subject="${esc(a.subject)}" data-id="${esc(a.id)}">
    <select name="hours">${[1, 2, 8, 24].map((h) => `<option value="${h}"${h === 2 ? ' selected' : ''}>${t('silenceHours', { h })}</option>`).join('')}</select>
    <input name="reason" required placeholder="${esc(t('silenceAsk'))}">
    <button type="submit">${t('silence')}</button></form>`;
}

// createSilence mutes what the form says for its hours: an alert's rule and subject (the form
// of its detail), or any label's value (the form above the silences).
async function createSilence(form) {
  const hours = Number(form.hours.value);
  const matchers = form.id === 'silence-new' ? { [form.label.value]: [form.value.value.trim()] } : { rule: [form.dataset.rule], subject: [form.dataset.subject] };
  const body = { matchers, ends_at: new Date(serverNow() + hours * 3600e3).toISOString(), reason: form.reason.value.trim() };
  try {
    const sil = await api('/silences', { method: 'POST', body });
    S.notice = t('silenced', { t: fmtTime(sil.ends_at) });
  } catch (e) { alert(t('failed') + ': ' + e.message); return; }
  if (form.dataset.id) showDetail(form.dataset.id); else form.reset();
  drawSilences();
}

// drawSilences lists the silences in force or to come, each with its end button.
async function drawSilences() {
  const box = $('#silences');
  box.classList.toggle('hidden', !can('silence'));
  if (!can('silence')) return;
  let list;
  try { list = await all('/silences'); } catch (e) { return; }
  $('#silences-table tbody').innerHTML = list.length ? list.map((x) => `<tr data-silence="${esc(x.id)}">
    <td>${esc(Object.entries(x.matchers).map(([k, v]) => k + ' = ' + v.join(' | ')).join(', '))}</td><td>${fmtTime(x.ends_at)}</td>
    <td>${esc(label('actor', x.author))}</td><td>${esc(x.reason)}</td>
    <td><button type="button" class="danger" data-silence-end="${esc(x.id)}">${t('silenceEnd')}</button></td></tr>`).join('')
    : `<tr><td colspan="5" class="note">${t('noSilences')}</td></tr>`;
}

async function endSilence(id) {
  try { await api('/silences/' + encodeURIComponent(id), { method: 'DELETE' }); } catch (e) { alert(t('failed') + ': ' + e.message); }
  drawSilences();
}

// deliveries lists the receipts of an alert's notifications: to which unit, by which channel,
// when, and whether it arrived.
function deliveries(list) {
  if (!list.length) return `<p class="note">${t('noDeliveries')}</p>`;
  return `<ul class="history deliveries">${list.slice().reverse().map((x) =>
    `<li class="dlv-${esc(x.status)}">${fmtTime(x.time)} · <b>${esc(unitNames([x.unit]))}</b> · ${esc(t('ch_' + x.channel))} ${esc(x.receiver)}
      · ${esc(t('ev' + x.kind))} · <span class="dlv">${esc(t('dlv_' + x.status))}</span>${x.attempt > 1 ? ` (${t('attempt')} ${x.attempt})` : ''}
      ${x.error ? '<div class="note">' + esc(x.error) + '</div>' : ''}</li>`).join('')}</ul>`;
}

// capDraft shows an alert's public warning waiting for people to release it, with the buttons
// for those who may.
function capDraft(id, d) {
  const approvals = d.approvals.map((x) => `${esc(x.name || x.by)} (${fmtTime(x.at)})`).join(', ');
  const buttons = can('approve_warnings') ? `<div class="actions">
    <button type="button" class="primary" data-act="cap/approve" data-id="${esc(id)}" data-ident="${esc(d.identifier)}">${t('capApprove')}</button>
    <button type="button" class="danger" data-act="cap/reject" data-id="${esc(id)}" data-ident="${esc(d.identifier)}">${t('capReject')}</button></div>` : '';
  return `<div class="cap-draft"><h3>${t('capDraft')} <span class="cap-status cap-${esc(d.status)}">${t('capStatus' + d.status)}</span></h3>
    <p>${esc(d.headline)}</p>
    ${d.suspect ? `<p><span class="suspect">${t('suspect')}</span></p>` : ''}
    <div class="row"><span>${t('capApprovals', { n: d.approvals.length, m: d.approvals_needed })}</span><span>${approvals}</span></div>
    ${d.approvals_needed > 1 ? `<div class="note">${t('capSecond', { r: d.risk_level })}</div>` : ''}${buttons}</div>`;
}

// ---- admin: API keys ----------------------------------------------------------------------------
async function drawKeys() {
  const roles = ['admin', 'operator', 'unit', 'analyst', 'viewer'];
  const sel = $('#key-role');
  if (!sel.options.length) sel.innerHTML = roles.map((r) => `<option value="${r}">${esc(label('role', r))}</option>`).join('');
  let keys;
  try { keys = await api('/keys'); } catch (e) { $('#keys-table tbody').innerHTML = `<tr><td colspan="8">${esc(e.message)}</td></tr>`; return; }
  $('#keys-table tbody').innerHTML = keys.map((k) => `<tr data-key="${esc(k.id)}" class="ks-${esc(k.status)}">
    <td>${esc(k.id)}</td><td>${esc(k.name)}</td><td>${esc(label('role', k.role))}</td><td>${esc(unitNames(k.units))}</td>
    <td>${esc(t('src_' + k.source))}</td><td>${k.expires ? fmtTime(k.expires) : '—'}</td><td>${esc(t('ks_' + k.status))}</td>
    <td>${k.source === 'api' && k.status !== 'revoked' ? `<button type="button" data-key-act="rotate" data-key-id="${esc(k.id)}">${t('keyRotate')}</button>` : ''}
      ${k.status !== 'revoked' ? `<button type="button" class="danger" data-key-act="revoke" data-key-id="${esc(k.id)}">${t('keyRevoke')}</button>` : ''}</td></tr>`).join('');
}

// drawRules lists the rules in force; reloading shows the validator's messages when the file
// has errors (the rules in force then stay).
async function drawRules() {
  let rules;
  try { rules = await all('/rules'); } catch (e) { $('#rules-table tbody').innerHTML = `<tr><td colspan="5">${esc(e.message)}</td></tr>`; return; }
  $('#rules-table tbody').innerHTML = rules.map((r) => `<tr data-rule="${esc(r.name)}"><td>${esc(text(r.title))}<div class="note">${esc(r.name)}</div></td>
    <td>${esc(r.kind)}</td><td>${r.metric ? esc(label('m_', r.metric)) : ''}</td><td>${esc(label('cat_', r.category))}</td><td>${t(r.public ? 'yes' : 'no')}</td></tr>`).join('');
}

async function reloadRules() {
  const out = $('#rules-result');
  out.classList.remove('hidden');
  try {
    const ans = await api('/rules/reload', { method: 'POST' });
    out.className = 'notice';
    out.textContent = t('rulesReloaded', { n: ans.rules });
  } catch (e) {
    out.className = 'down';
    out.textContent = e.message;
  }
  drawRules();
}

// drawProcedures lists the incident file in force: the correlations and each procedure's steps.
async function drawProcedures() {
  let r;
  try { r = await api('/incidents/rules'); } catch (e) { $('#procedures').textContent = e.message; return; }
  $('#correlations-table tbody').innerHTML = r.correlations.map((c) => `<tr data-correlation="${esc(c.name)}"><td>${esc(c.name)}<div class="note">${esc(text(c.title))}</div></td>
    <td>${esc(c.type)}</td><td>${esc(Object.entries(c.match || {}).map(([k, v]) => k + ' = ' + v.join(' | ')).join(', ') || '*')}</td><td>${esc(c.by.join(', '))}</td><td>${esc(c.window)}</td></tr>`).join('');
  $('#procedures').innerHTML = r.procedures.map((p) => `<details class="procedure" data-procedure="${esc(p.type + '/' + p.severity)}"><summary><span class="sev sev-${esc(p.severity)}">${t('sev' + p.severity)}</span>
    ${esc(text(p.title))} <span class="note">${esc(p.type)} · ${t('incStepsN', { n: p.steps.length })}</span></summary>
    <ol class="checklist">${p.steps.map((st) => `<li>${esc(text(st.text))} <span class="note">${esc(unitNames([st.unit]))} · ${esc(st.deadline)}</span></li>`).join('')}</ol></details>`).join('');
}

// byDistrict lists a catalog (a Map by id) by district, then id: the order of the wall and the
// catalog tables.
const byDistrict = (m) => [...m.values()].sort((a, b) => a.district.localeCompare(b.district) || a.id.localeCompare(b.id));

// drawCatalogs lists the sensor and camera catalogs in use, each entry with its latest
// reading or state (from the live city the UI already holds).
function drawCatalogs() {
  const sensors = byDistrict(S.sensors);
  $('#catalog-sensors tbody').innerHTML = sensors.map((s) => {
    const latest = s.metrics.map((m) => S.values.get(s.id + '/' + m)).filter((v) => v)
      .map((v) => `${esc(label('m_', v.metric))} ${v.text ? esc(v.text) : fmtNum(v.value, 2)} ${esc(v.unit)} · ${fmtTime(v.time)}`).join('<br>');
    return `<tr data-catalog-sensor="${esc(s.id)}"><td>${esc(s.id)}</td><td>${esc(s.name)}</td><td>${esc(s.district)}</td>
      <td>${esc(unitNames([s.owner_unit]))}</td><td>${s.interval_s ? fmtSpan(s.interval_s) : '—'}</td><td>${latest || t('noData')}</td></tr>`;
  }).join('');
  const cams = byDistrict(S.cameras);
  $('#catalog-cameras tbody').innerHTML = cams.map((c) => {
    const st = S.camStates.get(c.id);
    return `<tr data-catalog-camera="${esc(c.id)}"><td>${esc(c.id)}</td><td>${esc(c.name)}</td><td>${esc(c.district)}</td>
      <td>${esc(unitNames([c.owner_unit]))}</td><td>${st ? t(st.state) + (st.reason ? ' — ' + esc(reason(st.reason)) : '') + ' · ' + fmtTime(st.since) : t('unknown')}</td></tr>`;
  }).join('');
}

function showToken(k) {
  const el = $('#key-token');
  el.textContent = t('keyToken', { id: k.key.id, token: k.token });
  el.classList.remove('hidden');
}

async function keyAction(id, what) {
  try {
    if (what === 'revoke') {
      if (!confirm(t('keyConfirmRevoke', { id }))) return;
      await api('/keys/' + encodeURIComponent(id), { method: 'DELETE' });
    } else {
      showToken(await api('/keys/' + encodeURIComponent(id) + '/rotate', { method: 'POST' }));
    }
  } catch (e) { alert(t('failed') + ': ' + e.message); }
  drawKeys();
}

async function createKey(ev) {
  ev.preventDefault();
  const units = $('#key-units').value.split(',').map((u) => u.trim()).filter((u) => u);
  const body = { id: $('#key-id').value.trim(), name: $('#key-name').value.trim(), role: $('#key-role').value,
    expires_in_days: Number($('#key-days').value) || 90 };
  if (units.length) body.units = units;
  try { showToken(await api('/keys', { method: 'POST', body })); $('#key-form').reset(); } catch (e) { alert(t('failed') + ': ' + e.message); }
  drawKeys();
}

// ---- camera wall -------------------------------------------------------------------------------
function drawWall() {
  const all = byDistrict(S.cameras);
  const on = all.filter((c) => (S.camStates.get(c.id) || {}).state === 'online').length;
  $('#cameras-count').textContent = t('camerasCount', { n: all.length, on });
  // a grid of n × n live tiles, a page at a time (only the page's cameras play), or every camera as a card
  const video = !!(S.ui && S.ui.video), n = video ? Number($('#wall-layout').value) : 0;
  for (const el of document.querySelectorAll('#view-cameras .video-only')) el.classList.toggle('hidden', !video);
  $('#wall-pager').classList.toggle('hidden', !n);
  const pages = n ? Math.max(1, Math.ceil(all.length / (n * n))) : 1;
  S.wallPage = Math.min(S.wallPage || 0, pages - 1);
  const cams = n ? all.slice(S.wallPage * n * n, (S.wallPage + 1) * n * n) : all;
  $('#wall-page').textContent = t('wallPage', { p: S.wallPage + 1, n: pages });
  $('#wall').className = 'wall' + (n ? ' grid-' + n : '');
  for (const id of [...S.playing.keys()]) if (!cams.some((c) => c.id === id)) stopLive(id); // off the page: stop
  $('#wall').innerHTML = cams.map((c) => {
    const st = S.camStates.get(c.id);
    const state = st ? st.state : 'unknown';
    // frame rate and bitrate are measured in health mode only (metadata mode plays no video)
    const meta = st && st.width ? `${st.codec} ${st.width}×${st.height}` + (st.fps > 0 ? ` · ${fmtNum(st.fps, 1)} fps · ${fmtNum(st.bitrate_kbps, 0)} kbit/s` : '') : '';
    return `<div class="cam ${state}" data-camera="${esc(c.id)}"><div class="name">${esc(c.name)}</div>
      <div class="meta">${esc(c.id)} · ${esc(c.district)}</div><div>${t(state)}${st && st.reason ? ' — ' + esc(reason(st.reason)) : ''}</div>
      <div class="meta">${meta}</div>${st ? '<div class="meta">' + fmtTime(st.since) + '</div>' : ''}
      ${c.live_url ? `<a href="${esc(c.live_url)}" target="_blank" rel="noopener">${t('liveView')}</a>` : ''}
      ${S.ui && S.ui.video ? `<button type="button" data-live-cam="${esc(c.id)}">${t('livePlay')}</button>` : ''}
      <button type="button" data-cam-events="${esc(c.id)}">${t('camEvents')}</button>
      ${S.liveErrors.has(c.id) ? `<div class="note live-error">${esc(t('liveFailed'))}: ${esc(S.liveErrors.get(c.id))}</div>` : ''}</div>`;
  }).join('');
  for (const [id, v] of S.playing) { // a redraw keeps what plays: the video moves into the new tile
    const tile = document.querySelector(`#wall .cam[data-camera="${CSS.escape(id)}"]`);
    if (tile) tile.appendChild(v.el); else stopLive(id);
  }
  const down = video && Date.now() - S.videoDown < 2 * STILL_EVERY;
  $('#wall-note').classList.toggle('hidden', !down);
  $('#wall-note').textContent = down ? t('videoDownNote') : '';
  if (n) for (const c of cams) if (!S.playing.has(c.id) && !S.liveErrors.has(c.id)) playLive(c.id); // the page plays by itself
  refreshStills(true);
}

// ---- stills: a camera's picture where its live video does not play --------------------------
// From the camera's ONVIF snapshot (JPEG) or its recording's last second (MP4), through ioc;
// for a camera with neither, the last frame the wall decoded of it.
const STILL_EVERY = 15000;

// refreshStills puts the known stills into the tiles on screen that do not play, and asks for
// the ones older than STILL_EVERY (all of them, unless cachedOnly). While MediaMTX does not
// answer, the tiles it failed are tried again at each refresh.
function refreshStills(cachedOnly) {
  if (S.view !== 'cameras') return;
  if (!cachedOnly && S.videoDown && Date.now() - S.videoDown >= STILL_EVERY) {
    for (const [id, why] of [...S.liveErrors]) if (why === t('liveDown')) S.liveErrors.delete(id);
    S.videoDown = 0;
    drawWall();
    return;
  }
  for (const tile of document.querySelectorAll('#wall .cam')) {
    const id = tile.dataset.camera, r = tile.getBoundingClientRect();
    if (S.playing.has(id) || r.bottom < 0 || r.top > innerHeight) continue; // only what is seen
    showStill(id);
    const cam = S.cameras.get(id), st = S.stills.get(id);
    if (cam && cam.still && (!st || (!cachedOnly && Date.now() - st.at >= STILL_EVERY) || (cachedOnly && Date.now() - st.at >= 2 * STILL_EVERY))) loadStill(id);
  }
}

// showStill shows camera id's last still in its tile, above its name.
function showStill(id) {
  const tile = document.querySelector(`#wall .cam[data-camera="${CSS.escape(id)}"]`), s = S.stills.get(id);
  if (!tile || !s || S.playing.has(id)) return;
  const el = document.createElement(s.video ? 'video' : 'img');
  el.className = 'still';
  el.src = s.url;
  el.title = t('stillAt', { t: fmtTime(new Date(s.at).toISOString()) });
  if (s.video) Object.assign(el, { muted: true, playsInline: true, preload: 'auto' });
  const old = tile.querySelector('.still');
  if (old) old.replaceWith(el); else tile.prepend(el);
}

async function loadStill(id) {
  if (S.stillLoading.has(id)) return;
  S.stillLoading.add(id);
  try {
    const resp = await fetch(API + '/cameras/' + encodeURIComponent(id) + '/still', { headers: { Authorization: 'Bearer ' + S.token } });
    if (!resp.ok) return; // none now: the last one stays
    const blob = await resp.blob();
    keepStill(id, URL.createObjectURL(blob), blob.type.startsWith('video/'));
  } catch (e) { /* the camera or the network: the last still stays */ } finally { S.stillLoading.delete(id); }
}

function keepStill(id, url, video) {
  const old = S.stills.get(id);
  if (old && old.url.startsWith('blob:')) URL.revokeObjectURL(old.url);
  S.stills.set(id, { url, video, at: Date.now() });
  showStill(id);
}

// lastFrame keeps the frame a live tile shows as the camera's still, before it stops.
function lastFrame(id, v) {
  if (!v.videoWidth) return;
  try {
    const c = document.createElement('canvas');
    Object.assign(c, { width: v.videoWidth, height: v.videoHeight });
    c.getContext('2d').drawImage(v, 0, 0);
    keepStill(id, c.toDataURL('image/jpeg', 0.8), false);
  } catch (e) { /* a frame that may not be read: no still */ }
}

// openCamera shows a camera of the map live in the wall (on its page of the grid).
function openCamera(id) {
  const all = byDistrict(S.cameras);
  const n = Number($('#wall-layout').value);
  if (n) S.wallPage = Math.floor(all.findIndex((c) => c.id === id) / (n * n));
  S.wantLive = id;
  location.hash = '#cameras';
}

// wallPageBy turns the grid's page.
function wallPageBy(d) { S.wallPage = Math.max(0, (S.wallPage || 0) + d); S.liveErrors.clear(); drawWall(); }

// playLive plays a camera in its tile over WebRTC (WHEP) through MediaMTX, with a short-lived
// token of ioc's: the browser never learns the camera's address.
async function playLive(id) {
  if (S.playing.has(id)) { stopLive(id); drawWall(); return; }
  S.liveErrors.delete(id);
  const st = S.camStates.get(id);
  if (st && st.state === 'offline') { // no spinner for a camera known to be down: say why
    S.liveErrors.set(id, t('offline') + (st.reason ? ' — ' + reason(st.reason) : ''));
    drawWall();
    return;
  }
  const tile = document.querySelector(`#wall .cam[data-camera="${CSS.escape(id)}"]`);
  const el = document.createElement('video');
  Object.assign(el, { muted: true, autoplay: true, playsInline: true, className: 'live' });
  const still = S.stills.get(id);
  if (still && !still.video) el.poster = still.url; // the last picture until the first frame
  const entry = { el, pc: null };
  S.playing.set(id, entry);
  const shown = tile.querySelector('.still');
  if (shown) shown.remove();
  tile.appendChild(el);
  const fail = (msg) => { // in the tile as it is now: the wall may have been drawn again meanwhile
    stopLive(id);
    S.liveErrors.set(id, msg);
    drawWall();
  };
  try {
    // a token refused (it ended meanwhile) is renewed once, on a new connection; refused
    // again, the answer stands
    for (let attempt = 1; ; attempt++) {
      const live = await api('/cameras/' + encodeURIComponent(id) + '/live');
      if (!live.whep_url) { fail(t('liveNoServer')); return; }
      if (entry.pc) entry.pc.close();
      const pc = new RTCPeerConnection();
      entry.pc = pc;
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.ontrack = (ev) => { if (!el.srcObject) el.srcObject = ev.streams[0] || new MediaStream([ev.track]); };
      await pc.setLocalDescription(await pc.createOffer());
      let resp;
      try {
        resp = await fetch(live.whep_url, { method: 'POST', headers: { 'Content-Type': 'application/sdp', Authorization: 'Bearer ' + live.token }, body: pc.localDescription.sdp });
      } catch (e) { // no WebRTC from MediaMTX (down, or blocked on the way): low-latency HLS, else say so
        const down = () => { S.videoDown = Date.now(); fail(t('liveDown')); }; // the wall says so and shows stills
        if (live.hls_url && window.Hls && Hls.isSupported()) { pc.close(); entry.pc = null; playHLS(entry, live, down); return; }
        down();
        return;
      }
      const body = await resp.text();
      // MediaMTX answers a token ioc refused with 400 "authentication failed" (401 elsewhere)
      const refused = resp.status === 401 || resp.status === 403 || (resp.status === 400 && body.includes('authentication failed'));
      if (refused && attempt < 2) continue;
      if (refused) { fail(t('liveDenied')); return; }
      if (!resp.ok) { fail(t('liveNoAnswer') + ' (' + resp.status + ')'); return; }
      await pc.setRemoteDescription({ type: 'answer', sdp: body });
      return;
    }
  } catch (e) { fail(e.message); }
}

// playHLS plays the camera's low-latency HLS with hls.js, the token on every request; down is
// called when it cannot (hls.js gave up).
function playHLS(entry, live, down) {
  const hls = new Hls({ enableWorker: false, lowLatencyMode: true,
    xhrSetup: (xhr) => xhr.setRequestHeader('Authorization', 'Bearer ' + live.token) });
  entry.hls = hls;
  hls.on(Hls.Events.ERROR, (_, data) => { if (data.fatal && S.playing.get(live.camera) === entry) down(); });
  entry.el.dataset.via = 'hls';
  hls.loadSource(live.hls_url);
  hls.attachMedia(entry.el);
}

function stopLive(id) {
  const v = S.playing.get(id);
  if (!v) return;
  lastFrame(id, v.el);
  if (v.hls) v.hls.destroy();
  if (v.pc) v.pc.close();
  v.el.remove();
  S.playing.delete(id);
}

// ---- citizen reports (phản ánh hiện trường): the queue, a report with its photos ------------------
const repStates = ['received', 'in_progress', 'resolved', 'rejected'];
const repCategory = (id) => { const c = ((S.ui && S.ui.citizen_categories) || []).find((x) => x.id === id); return c ? (S.lang === 'en' ? c.en : c.vi) : id; };

// showReportsTab shows the tab, and its categories, when the server takes citizen reports.
function showReportsTab() {
  const cats = (S.ui && S.ui.citizen_categories) || [];
  $('#nav-reports-link').classList.toggle('hidden', !cats.length);
  $('#rep-stats-toggle').classList.toggle('hidden', !can('history'));
  const sel = $('#rep-category');
  if (sel.options.length === 1) for (const c of cats) sel.add(new Option(repCategory(c.id), c.id));
}

async function loadReports() {
  const q = new URLSearchParams({ limit: '200' });
  if ($('#rep-category').value) q.set('category', $('#rep-category').value);
  if ($('#rep-state').value) q.set('state', $('#rep-state').value);
  let pg;
  try { pg = await api('/citizen-reports?' + q); } catch (e) { $('#reports-count').textContent = e.message; return; }
  S.reports = pg.items;
  const fresh = pg.items.filter((r) => r.state === 'received').length;
  $('#nav-reports').textContent = fresh;
  $('#nav-reports').classList.toggle('hidden', fresh === 0);
  $('#reports-count').textContent = t('repCount', { n: pg.total });
  $('#reports-table tbody').innerHTML = pg.items.map((r) => `<tr data-report="${esc(r.id)}" class="${r.id === S.repSelected ? 'sel' : ''}">
    <td>${fmtTime(r.received)}<div class="note">${esc(r.ticket)}</div></td><td>${esc(repCategory(r.category))}</td>
    <td>${esc(r.commune || '')}<div class="note">${esc(r.district)}</div></td><td class="rep-text">${esc(r.description.length > 120 ? r.description.slice(0, 120) + '…' : r.description)}</td>
    <td>${r.photos.map((p) => `<img class="thumb" data-report-photo="${esc(r.id)}" data-photo="${esc(p.thumb)}" alt="">`).join('')}</td>
    <td>${r.alert ? esc(unitNames(r.units)) : `<span class="note">${t('repNotRouted')}</span>`}${r.due_at ? `<div class="note ${r.overdue ? 'overdue' : ''}">${t('repDue')} ${fmtTime(r.due_at)}${r.overdue ? ' · ' + t('repOverdue') : ''}</div>` : ''}</td>
    <td class="rep-${esc(r.state)}">${t('rep' + r.state)}</td></tr>`).join('') || `<tr><td colspan="7" class="note">${t('repNone')}</td></tr>`;
  loadPhotos($('#reports-table'));
  if (S.repSelected && S.view === 'reports') showReport(S.repSelected);
  if (S.view === 'map') drawMap();
}

// loadPhotos fills the images under root whose data-photo names a photo's hash, of the report
// data-report-photo names (fetched with the token; kept as object URLs: a hash's content never
// changes).
function loadPhotos(root) {
  S.photoURLs = S.photoURLs || new Map();
  for (const img of root.querySelectorAll('img[data-photo]')) {
    const h = img.dataset.photo;
    if (S.photoURLs.has(h)) { img.src = S.photoURLs.get(h); continue; }
    api('/citizen-reports/' + encodeURIComponent(img.dataset.reportPhoto) + '/photos/' + h, { raw: true }).then((r) => r.blob()).then((b) => {
      if (!S.photoURLs.has(h)) S.photoURLs.set(h, URL.createObjectURL(b));
      img.src = S.photoURLs.get(h);
    }).catch(() => { img.alt = t('repNoPhoto'); });
  }
}

async function showReport(id) {
  S.repSelected = id;
  const panel = $('#report-detail');
  panel.classList.remove('hidden');
  $('#view-reports .split').classList.add('open');
  let r;
  try { r = await api('/citizen-reports/' + encodeURIComponent(id)); } catch (e) { panel.textContent = e.message; return; }
  const row = (k, v) => `<div class="row"><span>${t(k)}</span><span>${v}</span></div>`;
  const open = r.state === 'received' || r.state === 'in_progress';
  const act = (what, label, cls = '') => `<button type="button" class="${cls}" data-rep-act="${what}" data-id="${esc(r.id)}">${t(label)}</button>`;
  panel.innerHTML = `<h3>${esc(repCategory(r.category))} <span class="rep-${esc(r.state)}">${t('rep' + r.state)}</span></h3>
    ${row('repTicket', esc(r.ticket))}${row('repReceived', fmtTime(r.received))}
    ${row('repPlace', esc([r.commune, r.district].filter((x) => x).join(', ')) + ` <span class="note">${r.location.lat.toFixed(5)}, ${r.location.lon.toFixed(5)}</span>`)}
    ${r.contact ? row('repContact', esc([r.contact.name, r.contact.phone, r.contact.email].filter((x) => x).join(' · '))) : ''}
    ${row('repUnits', r.alert ? esc(unitNames(r.units)) : `<span class="note">${t('repNotRouted')}</span>`)}
    ${r.due_at ? row('repDue', fmtTime(r.due_at) + (r.overdue ? ` · <b class="overdue">${t('repOverdue')}</b>` : '')) : ''}
    ${r.alert ? row('repGroup', `<span title="${t('repGroupHint')}">${t('repGroupOf', { n: r.group || 1 })}</span>` + (open ? ` · <a href="#alerts" data-open-alert="${esc(r.alert)}">${t('repAlert')}</a>` : '')) : ''}
    ${r.camera ? row('repCamera', esc((S.cameras.get(r.camera) || { name: r.camera }).name) + ` <span class="note">${fmtNum(r.camera_distance_m, 0)} m</span> · <a href="#cameras">${t('repCameraOpen')}</a>`) : ''}
    <p class="notes">${esc(r.description)}</p>
    ${r.answer ? `<p><b>${t('repAnswer')}:</b> ${esc(r.answer)}</p>` : ''}
    ${canAct() && r.alert && open ? `<div class="actions">${r.state === 'received' ? act('take', 'repTake', 'primary') : ''}${act('answer', 'repDoAnswer')}${act('reject', 'repReject', 'danger')}
      <span class="note" id="rep-msg"></span></div>` : ''}
    <div class="rep-photos">${r.photos.map((p) => `<figure><img data-report-photo="${esc(r.id)}" data-photo="${esc(p.hash)}" alt="">
      <figcaption class="note">${p.width} × ${p.height}${p.taken ? ' · ' + t('repTaken') + ' ' + fmtTime(p.taken) : ''}${p.location ? ' · ' + t('repExifAt', { m: fmtNum(p.distance_m, 0) }) : ''}</figcaption></figure>`).join('')}</div>`;
  loadPhotos(panel);
  for (const tr of document.querySelectorAll('#reports-table tr[data-report]')) tr.classList.toggle('sel', tr.dataset.report === id);
}

// reportAct takes, answers or rejects a report (and its group) through its alert.
async function reportAct(id, what) {
  let body = {};
  if (what === 'answer') { const a = prompt(t('repAskAnswer'), ''); if (!a) return; body = { answer: a }; }
  if (what === 'reject') { const r = prompt(t('repAskReject'), ''); if (!r) return; body = { reason: r }; }
  try { await api('/citizen-reports/' + encodeURIComponent(id) + '/' + what, { method: 'POST', body }); } catch (e) { $('#rep-msg').textContent = t('failed') + ': ' + e.message; return; }
  setTimeout(loadReports, 500); // the store hears the change a moment after the engine made it
}

// loadReportStats fills the analysts' table: reports and response times by category, district
// or unit over the last 30 days.
async function loadReportStats() {
  const by = $('#rep-stats-by').value;
  let rows;
  try { rows = await api('/citizen-reports/stats?by=' + by); } catch (e) { $('#rep-stats tbody').innerHTML = `<tr><td colspan="9" class="note">${esc(e.message)}</td></tr>`; return; }
  const key = (k) => by === 'category' ? repCategory(k) : by === 'unit' ? unitNames([k]) : k;
  const span = (v) => v === null || v === undefined ? '—' : fmtSpan(v);
  $('#rep-stats tbody').innerHTML = rows.map((r) => `<tr><td>${esc(key(r.key))}</td><td>${r.reports}</td><td>${r.open}</td><td>${r.in_progress}</td><td>${r.resolved}</td>
    <td>${r.rejected}</td><td class="${r.overdue ? 'overdue' : ''}">${r.overdue}</td><td>${span(r.median_response_seconds)}</td><td>${span(r.median_answer_seconds)}</td></tr>`).join('') ||
    `<tr><td colspan="9" class="note">${t('repNone')}</td></tr>`;
}

// ---- incidents (sự cố): list, detail with checklist and timeline, report ---------------------------
const stepsDone = (inc) => {
  const done = inc.steps.filter((s) => s.done).length, late = inc.steps.filter((s) => !s.done && s.overdue).length;
  return inc.steps.length ? `${done}/${inc.steps.length}` + (late ? ` <b class="overdue">${t('incOverdueN', { n: late })}</b>` : '') : '—';
};
const center = () => S.me && S.me.role !== 'unit'; // the center's staff own and move incidents

async function loadIncidents() {
  if (!S.me) return;
  try { S.incidents = (await api('/incidents?limit=1000')).items; } catch (e) { return; } // none served (no alert engine here) or a blip: keep the last
  const open = S.incidents.filter((i) => i.state === 'new').length;
  $('#nav-incidents').textContent = open;
  $('#nav-incidents').classList.toggle('hidden', open === 0);
  if (S.view === 'incidents') { renderIncidents(); if (S.incSelected) showIncident(S.incSelected); }
  if (S.view === 'screen') drawScreen();
}

function renderIncidents() {
  const withClosed = document.querySelector('input[name=if]:checked').value === 'all';
  const list = S.incidents.filter((i) => withClosed || i.state !== 'closed')
    .sort((a, b) => (a.state === 'closed') - (b.state === 'closed') || sevRank[b.severity] - sevRank[a.severity] || b.opened.localeCompare(a.opened));
  $('#incidents-count').textContent = t('histIncCount', { n: list.length });
  $('#incidents-table tbody').innerHTML = list.map((i) => `<tr data-incident="${esc(i.id)}" class="${i.id === S.incSelected ? 'sel' : ''}">
    <td><span class="sev sev-${esc(i.severity)}">${t('sev' + i.severity)}</span></td>
    <td>${esc(text(i.title))}<div class="note">${esc(i.districts.join(', '))} · ${t('incAlertsN', { n: i.alerts.length })}</div></td>
    <td class="inc-${esc(i.state)}">${t('inc' + i.state)}</td><td>${stepsDone(i)}</td><td>${esc(i.owner_name || '—')}</td><td>${fmtTime(i.opened)}</td></tr>`).join('')
    || `<tr><td colspan="6" class="note">${t('incNone')}</td></tr>`;
}

async function showIncident(id) {
  S.incSelected = id;
  const panel = $('#incident-detail');
  panel.classList.remove('hidden');
  $('#view-incidents .split').classList.add('open');
  const seq = S.incSeq = (S.incSeq || 0) + 1;
  let d;
  try { d = await api('/incidents/' + encodeURIComponent(id)); } catch (e) { if (seq === S.incSeq) panel.textContent = e.message; return; }
  if (seq !== S.incSeq) return;
  const i = d.incident, open = i.state !== 'closed';
  const act = (what, label, cls = '') => `<button type="button" class="${cls}" data-inc-act="${what}" data-id="${esc(id)}">${t(label)}</button>`;
  const buttons = canAct() && open ? `<div class="actions">
    ${center() && i.owner !== S.me.id ? act('take', 'incTake', 'primary') : ''}
    ${center() && i.state !== 'in_progress' && i.state !== 'new' ? act('in_progress', 'incToProgress') : ''}
    ${center() && i.state !== 'contained' ? act('contained', 'incToContained') : ''}
    ${center() ? act('closed', 'incClose', 'danger') : ''}${act('note', 'comment')}</div>` : '';
  const canTick = (st) => canAct() && open && !st.done && (center() || S.me.units.includes(st.unit));
  const steps = i.steps.length ? '<ol class="checklist">' + i.steps.map((st) => `<li data-step="${esc(st.id)}" class="${st.done ? 'done' : st.overdue ? 'overdue' : ''}">
    <span class="tick">${st.done ? '☑' : '☐'}</span> ${esc(text(st.text))}
    <div class="note">${esc(unitNames([st.unit]))} · ${t('incDue')} ${fmtTime(st.due)}${!st.done && st.overdue ? ` · <b class="overdue">${t('incOverdue')}</b>` : ''}
    ${st.done ? ` · ${t('incDoneBy', { who: esc(st.done_by_name), t: fmtTime(st.done) })}${st.note ? ' — ' + esc(st.note) : ''}` : ''}</div>
    ${canTick(st) ? `<button type="button" class="primary" data-step-done="${esc(st.id)}" data-id="${esc(id)}">${t('incDone')}</button>` : ''}</li>`).join('') + '</ol>' : `<p class="note">${t('incNoSteps')}</p>`;
  panel.innerHTML = `<h3><span class="sev sev-${esc(i.severity)}">${t('sev' + i.severity)}</span> ${esc(text(i.title))}</h3>
    <div class="row"><span>${t('state')}</span><span class="inc-${esc(i.state)}">${t('inc' + i.state)}</span></div>
    <div class="row"><span>${t('incOwner')}</span><span>${esc(i.owner_name || '—')}</span></div>
    <div class="row"><span>${t('district')}</span><span>${esc(i.districts.join(', '))}</span></div>
    <div class="row"><span>${t('units')}</span><span>${esc(unitNames(i.units))}</span></div>
    <div class="row"><span>${t('since')}</span><span>${fmtTime(i.opened)}</span></div>
    ${i.summary ? `<p class="notes">${esc(i.summary)}</p>` : ''}
    ${buttons}<p><button type="button" data-inc-report="${esc(id)}">${t('incReport')}</button> <span class="note" id="inc-msg"></span></p>
    <h3>${t('incProcedure')}${i.procedure && i.procedure.vi ? ': ' + esc(text(i.procedure)) : ''}</h3>${steps}
    <h3>${t('navAlerts')} (${i.alerts.length})</h3><ul class="history">${i.alerts.map((a) => `<li><span class="sev sev-${esc(a.severity)}">${t('sev' + a.severity)}</span>
      ${esc(text(a.title))} <span class="note">${esc(a.district)} · ${t('st' + a.state)} · ${fmtTime(a.starts_at)}</span></li>`).join('')}</ul>
    <h3>${t('history')}</h3><ul class="history timeline">${d.timeline.slice().reverse().map((e) => `<li class="tl-${esc(e.kind)}">${fmtTime(e.time)} · <b>${esc(e.actor_name || label('actor', e.actor))}</b>
      <div>${esc((S.lang === 'en' && e.text_en) || e.text)}</div></li>`).join('')}</ul>`;
  renderIncidents();
}

async function incidentAct(id, what) {
  let path = '/incidents/' + encodeURIComponent(id) + '/', body;
  if (what === 'take') path += 'take';
  else if (what === 'note') { const n = prompt(t('askComment'), ''); if (!n) return; path += 'notes'; body = { text: n }; }
  else {
    let note = '';
    if (what === 'closed') { note = prompt(t('incAskSummary'), ''); if (!note) return; }
    path += 'state'; body = { state: what, note };
  }
  try { await api(path, { method: 'POST', body }); } catch (e) { alert(t('failed') + ': ' + e.message); return; }
  await loadIncidents();
  showIncident(id);
}

async function tickStep(id, step) {
  const note = prompt(t('incAskStepNote'), '');
  if (note === null) return;
  try { await api('/incidents/' + encodeURIComponent(id) + '/steps/' + encodeURIComponent(step) + '/done', { method: 'POST', body: { note } }); } catch (e) { alert(t('failed') + ': ' + e.message); return; }
  await loadIncidents();
  showIncident(id);
}

// printReport opens the incident's report (fetched with the token) in a new window and prints it.
async function printReport(id) {
  const w = window.open('', '_blank'); // opened on the click, before the fetch: no popup blocker
  try {
    const resp = await api('/incidents/' + encodeURIComponent(id) + '/report?lang=' + S.lang, { raw: true });
    const url = URL.createObjectURL(new Blob([await resp.text()], { type: 'text/html' }));
    if (!w) { $('#inc-msg').innerHTML = `<a href="${url}" target="_blank" rel="noopener">${t('incReport')}</a>`; return; }
    w.location = url;
    w.addEventListener('load', () => w.print(), { once: true });
  } catch (e) { if (w) w.close(); $('#inc-msg').textContent = e.message; }
}

// clipQuery is the evidence clip of a camera alert: from 30 s before it started to 30 s after.
const clipQuery = (at) => '?start=' + encodeURIComponent(new Date(Date.parse(at) - 30e3).toISOString()) + '&duration=60';

// playClip plays a clip (the API path) in box (fetched with the token, shown from a blob).
async function playClip(path, box, msg) {
  msg.textContent = '…';
  try {
    const resp = await api(path, { raw: true });
    const v = document.createElement('video');
    Object.assign(v, { controls: true, autoplay: true, muted: true, className: 'clip', src: URL.createObjectURL(await resp.blob()) });
    box.replaceChildren(v);
    msg.textContent = '';
  } catch (e) { msg.textContent = t('clipNone') + ' (' + e.message + ')'; }
}

// showCamEvents lists a camera's latest analytics events under the wall, each with its clip
// when the camera is recorded.
async function showCamEvents(id) {
  const box = $('#cam-events'), cam = S.cameras.get(id);
  box.classList.remove('hidden');
  const head = `<h3>${t('camEvents')}: ${esc(cam ? cam.name : id)} <button type="button" id="cam-events-close">×</button></h3>`;
  box.innerHTML = head + '<p class="note">…</p>';
  let pg;
  try { pg = await api('/cameras/' + encodeURIComponent(id) + '/events?limit=50'); } catch (e) { box.innerHTML = head + `<p class="note">${esc(e.message)}</p>`; return; }
  box.innerHTML = head + '<p class="note" id="ev-clip-msg"></p><div id="ev-clip-box"></div>' + (pg.items.length ? `<table><thead><tr><th>${t('camEventTime')}</th><th>${t('camEventKind')}</th><th>${t('ruleName')}</th><th>${t('camEventObject')}</th><th></th></tr></thead><tbody>
    ${pg.items.map((e) => `<tr><td>${fmtTime(e.time)}</td><td>${esc(label('eventKind', e.kind))}</td><td>${esc(e.rule || e.topic || '')}${e.state ? ' = ' + esc(e.state) : ''}</td>
      <td>${esc([e.object_class, e.plate, e.count ? String(e.count) : ''].filter((x) => x).join(' · '))}</td>
      <td>${e.clip ? `<button type="button" data-ev-clip="${esc(e.clip.slice(API.length))}">${t('clipPlay')}</button>` : ''}</td></tr>`).join('')}</tbody></table>`
    : `<p class="note">${t('camEventsNone')}</p>`);
  box.scrollIntoView({ block: 'nearest' });
}

// ---- wall screen: big type, no controls, map, cameras and open alerts in turn -----------------
// screenEvery is the seconds each slide stays (?rotate=N in the page's address; 15 by default).
const screenEvery = () => Math.max(2, Number(new URLSearchParams(location.search).get('rotate')) || 15);

function drawScreen() {
  drawKPIs($('#screen-kpis'));
  const slide = document.querySelector('#view-screen .slide:not(.hidden)').dataset.slide;
  if (slide === 'map') drawMap($('#screen-map'));
  if (slide === 'cameras') {
    const cams = [...S.cameras.values()].map((c) => ({ c, st: S.camStates.get(c.id) }));
    // the cameras not working first: they are what the room must see
    cams.sort((a, b) => ((a.st || {}).state === 'online') - ((b.st || {}).state === 'online') || a.c.district.localeCompare(b.c.district));
    $('#screen-cams').innerHTML = cams.map(({ c, st }) => `<div class="cam ${st ? st.state : 'unknown'}" data-camera="${esc(c.id)}"><div class="name">${esc(c.name)}</div>
      <div>${t(st ? st.state : 'unknown')}${st && st.reason ? ' — ' + esc(reason(st.reason)) : ''}</div></div>`).join('');
  }
  if (slide === 'incidents') {
    const open = S.incidents.filter((i) => i.state !== 'closed').sort((a, b) => sevRank[b.severity] - sevRank[a.severity] || a.opened.localeCompare(b.opened));
    $('#screen-incidents').innerHTML = open.length ? open.slice(0, 8).map((i) => `<li data-screen-incident="${esc(i.id)}"><span class="sev sev-${esc(i.severity)}">${t('sev' + i.severity)}</span>
      ${esc(text(i.title))} <span class="note">${t('inc' + i.state)} · ${stepsDone(i)} · ${fmtTime(i.opened)}</span></li>`).join('') : `<li class="note">${t('screenNoIncidents')}</li>`;
  }
  if (slide === 'alerts') {
    const open = openAlerts().sort((a, b) => sevRank[b.severity] - sevRank[a.severity] || a.starts_at.localeCompare(b.starts_at));
    $('#screen-alerts').innerHTML = open.length ? open.slice(0, 8).map((a) => `<li data-screen-alert="${esc(a.id)}"><span class="sev sev-${esc(a.severity)}">${t('sev' + a.severity)}</span>
      ${esc(text(a.title))} <span class="note">${esc(a.district)} · ${fmtTime(a.starts_at)}</span></li>`).join('') : `<li class="note">${t('screenNoAlerts')}</li>`;
  }
}

// nextSlide shows the wall screen's next slide.
function nextSlide() {
  const slides = [...document.querySelectorAll('#view-screen .slide')];
  const i = slides.findIndex((el) => !el.classList.contains('hidden'));
  slides.forEach((el, j) => el.classList.toggle('hidden', j !== (i + 1) % slides.length));
  drawScreen();
}

// ---- trends ----------------------------------------------------------------------------------
function fillTrendForm() {
  const sel = $('#trend-sensors');
  sel.innerHTML = [...S.sensors.values()].map((s) => `<option value="${esc(s.id)}">${esc(s.name)} (${esc(s.id)})</option>`).join('');
  sel.onchange = syncMetrics;
}

function syncMetrics() {
  const chosen = [...$('#trend-sensors').selectedOptions].map((o) => S.sensors.get(o.value));
  const metrics = [...new Set(chosen.flatMap((s) => s.metrics))];
  const cur = $('#trend-metric').value;
  $('#trend-metric').innerHTML = metrics.map((m) => `<option value="${esc(m)}" ${m === cur ? 'selected' : ''}>${esc(metricName(m))}</option>`).join('');
}

function trendQuery() {
  const sensors = [...$('#trend-sensors').selectedOptions].map((o) => o.value);
  if (!sensors.length) { $('#trend-note').textContent = t('pickSensor'); return null; }
  const to = new Date(serverNow()), from = new Date(to - Number($('#trend-range').value) * 3600e3);
  const q = new URLSearchParams({ sensors: sensors.join(','), metric: $('#trend-metric').value, from: from.toISOString(), to: to.toISOString() });
  return q;
}

const COLORS = ['#539bf5', '#f0883e', '#57ab5a', '#e5534b', '#b083f0', '#d29922', '#39c5cf'];

async function showTrend() {
  const q = trendQuery();
  if (!q) return;
  if ($('#trend-compare').value) q.set('compare', $('#trend-compare').value);
  $('#trend-note').textContent = '…';
  let ans;
  try { ans = await api('/trends?' + q); } catch (e) { $('#trend-note').textContent = e.message; return; }
  const series = ans.series.map((s, i) => ({ ...s, color: COLORS[i % COLORS.length] }))
    .concat((ans.compare || []).map((s, i) => ({ ...s, color: COLORS[i % COLORS.length], before: true })));
  const n = ans.series.reduce((a, s) => a + s.points.filter((p) => p.avg != null).length, 0);
  $('#trend-note').textContent = n ? `${n} · ${ans.series[0].resolution} · ${ans.series[0].step_seconds}s` : t('noData');
  drawChart(series);
}

function drawChart(series) {
  const el = $('#chart');
  const W = el.clientWidth || 1200, H = el.clientHeight || 500, L = 60, R = 70, T = 20, B = 40;
  el.setAttribute('viewBox', `0 0 ${W} ${H}`);
  el.innerHTML = '';
  const pts = series.flatMap((s) => s.points.filter((p) => p.avg != null));
  if (!pts.length) return;
  // a water level's chart carries each station's báo động I, II, III as lines
  const levels = $('#trend-metric').value !== 'water_level' ? [] : series.filter((s) => !s.before).flatMap((s) => {
    const a = (S.sensors.get(s.sensor) || {}).alarm_levels;
    return a ? a.map((v, i) => ({ v, i, color: s.color })) : [];
  });
  const tx = pts.map((p) => new Date(p.t).getTime()), vy = pts.flatMap((p) => [p.min ?? p.avg, p.max ?? p.avg]).concat(levels.map((l) => l.v));
  const [t0, t1] = [Math.min(...tx), Math.max(...tx)], [v0, v1] = [Math.min(...vy), Math.max(...vy)];
  const X = (ms) => L + (ms - t0) / ((t1 - t0) || 1) * (W - L - R), Y = (v) => H - B - (v - v0) / ((v1 - v0) || 1) * (H - T - B);
  for (let i = 0; i <= 4; i++) {
    const v = v0 + (v1 - v0) * i / 4, y = Y(v);
    svg('line', { x1: L, x2: W - R, y1: y, y2: y, class: 'gridline' }, el);
    svg('text', { x: 6, y: y + 4 }, el).textContent = fmtNum(v);
    const ms = t0 + (t1 - t0) * i / 4;
    svg('text', { x: Math.min(Math.max(X(ms), L + 50), W - R - 50), y: H - 12, 'text-anchor': 'middle' }, el).textContent = fmtTime(new Date(ms).toISOString());
  }
  svg('line', { x1: L, x2: L, y1: T, y2: H - B, class: 'axis' }, el);
  for (const l of levels) {
    const y = Y(l.v);
    svg('line', { x1: L, x2: W - R, y1: y, y2: y, class: 'alarm-level', stroke: l.color }, el);
    svg('text', { x: W - R + 4, y: y + 4, class: 'alarm-label', style: 'fill:' + l.color }, el).textContent = t('alarmLine') + ' ' + ['I', 'II', 'III'][l.i];
  }
  series.forEach((s, i) => {
    // points closer than the sensor's silence (silent_after_s, and never under one and a half
    // buckets) are one line; a longer gap is drawn as a gap
    const silent = ((S.sensors.get(s.sensor) || {}).silent_after_s || 0) * 1000;
    const maxGap = Math.max(silent, 1.5 * (s.step_seconds || 0) * 1000);
    let d = '', prev = null, run = 0;
    const dots = [];
    const endRun = () => { if (run === 1) dots.push(prev); };
    for (const p of s.points) {
      if (p.avg == null) continue;
      const ms = new Date(p.t).getTime();
      const xy = X(ms).toFixed(1) + ',' + Y(p.avg).toFixed(1);
      if (prev && ms - prev.ms <= maxGap) { d += 'L' + xy; run++; } else { endRun(); d += 'M' + xy; run = 1; }
      prev = { ms, v: p.avg };
    }
    endRun();
    svg('path', { d, stroke: s.color, class: 'line' + (s.before ? ' before' : '') }, el);
    for (const p of dots) svg('circle', { cx: X(p.ms), cy: Y(p.v), r: 2.5, fill: s.color, class: 'dot' }, el);
    const name = (S.sensors.get(s.sensor) || { name: s.sensor }).name + (s.before ? ' (' + t('before') + ')' : '') + ' · ' + s.unit;
    svg('text', { x: L + 10, y: T + 16 + i * 16, style: 'fill:' + s.color }, el).textContent = name;
  });
}

async function exportCSV() {
  const q = trendQuery();
  if (!q) return;
  q.set('lang', S.lang);
  await download('/exports/trend.csv?' + q, 'xu-huong-' + q.get('metric') + '.csv', $('#trend-note'));
}

// download saves what path answers as a file named name, saying so (or why not) in note.
async function download(path, name, note) {
  try {
    const resp = await api(path, { raw: true });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(await resp.blob());
    a.download = name;
    document.body.appendChild(a); a.click(); a.remove();
    note.textContent = t('saved') + ': ' + name;
  } catch (e) { note.textContent = e.message; }
}

// ---- history of alerts ----------------------------------------------------------------------------
// historyQuery is the search of the history form: whole days in Hà Nội time.
function historyQuery() {
  const q = new URLSearchParams();
  const day = (id, end) => { const v = $(id).value; if (v) q.set(end ? 'to' : 'from', new Date(v + (end ? 'T24:00:00+07:00' : 'T00:00:00+07:00')).toISOString()); };
  day('#hist-from', false); day('#hist-to', true);
  const st = $(histIncidents() ? '#hist-inc-state' : '#hist-state').value;
  if (st) q.set('state', st);
  if ($('#hist-q').value.trim()) q.set('q', $('#hist-q').value.trim());
  return q;
}

const fmtSpan = (s) => s === undefined ? '—' : s < 90 ? Math.round(s) + ' s' : s < 5400 ? Math.round(s / 60) + ' min' : fmtNum(s / 3600, 1) + ' h';

// drawTimes charts the median times to acknowledge and to resolve, a pair of bars per unit and
// category, on one scale.
function drawTimes(times) {
  const el = $('#times-chart');
  el.innerHTML = '';
  const rows = times; // a row without medians keeps its label: nothing acknowledged or resolved yet
  el.classList.toggle('hidden', rows.length === 0);
  if (!rows.length) return;
  const W = 900, left = 300, row = 30, H = rows.length * row + 28;
  el.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const top = Math.max(...rows.map((r) => Math.max(r.median_ack_seconds, r.median_resolve_seconds)), 1);
  // a bar for each median there is (zero when none acknowledged or resolved: no bar)
  const x = (v) => (W - left - 90) * v / top;
  rows.forEach((r, i) => {
    const y = 8 + i * row;
    svg('text', { x: left - 8, y: y + 16, 'text-anchor': 'end', class: 'bar-label' }, el).textContent = unitNames([r.unit]) + ' · ' + label('cat_', r.category);
    for (const [k, v, cls] of [[0, r.median_ack_seconds, 'bar-ack'], [1, r.median_resolve_seconds, 'bar-resolve']]) {
      if (!(k ? r.resolved : r.acknowledged)) continue;
      svg('rect', { x: left, y: y + k * 11, width: Math.max(1, x(v)), height: 10, class: cls }, el);
      svg('text', { x: left + x(v) + 4, y: y + k * 11 + 9, class: 'bar-value' }, el).textContent = fmtSpan(v);
    }
  });
  const ly = H - 8;
  svg('rect', { x: left, y: ly - 9, width: 10, height: 10, class: 'bar-ack' }, el);
  svg('text', { x: left + 14, y: ly, class: 'bar-value' }, el).textContent = t('histAck');
  svg('rect', { x: left + 160, y: ly - 9, width: 10, height: 10, class: 'bar-resolve' }, el);
  svg('text', { x: left + 174, y: ly, class: 'bar-value' }, el).textContent = t('histResolve');
}

const histIncidents = () => $('#hist-kind').value === 'incidents';

async function searchHistory(ev) {
  if (ev) ev.preventDefault();
  const inc = histIncidents();
  for (const id of ['#hist-state', '#history-table', '#times-table', '#times-chart', '#view-history h3']) $(id).classList.toggle('hidden', inc);
  for (const id of ['#hist-inc-state', '#incident-history-table']) $(id).classList.toggle('hidden', !inc);
  if (inc) { searchIncidentHistory(); return; }
  const q = historyQuery();
  let pg, times;
  try {
    [pg, times] = await Promise.all([api('/alerts/history?' + q + '&limit=200'), api('/alerts/history/response-times?' + q)]);
  } catch (e) { $('#hist-count').textContent = e.message; return; }
  $('#hist-count').textContent = t('histCount', { n: pg.total });
  $('#history-table tbody').innerHTML = pg.items.map((it) => { const a = it.alert; return `<tr data-alert-history="${esc(a.id)}">
    <td><span class="sev sev-${esc(a.severity)}">${t('sev' + a.severity)}</span></td><td>${esc(text(a.title))}<div class="note">${esc(a.subject_name || a.subject)}</div></td>
    <td>${esc(a.district)}</td><td>${esc(unitNames(a.units))}</td><td>${it.fired ? fmtTime(it.fired) : '—'}</td>
    <td>${fmtSpan(it.ack_seconds)}</td><td>${fmtSpan(it.resolve_seconds)}</td><td class="st-${esc(a.state)}">${t('st' + a.state)}</td></tr>`; }).join('');
  drawTimes(times);
  $('#times-table tbody').innerHTML = times.map((r) => `<tr><td>${esc(unitNames([r.unit]))}</td><td>${esc(label('cat_', r.category))}</td><td>${r.alerts}</td>
    <td>${r.acknowledged ? fmtSpan(r.median_ack_seconds) + ` (${r.acknowledged})` : '—'}</td><td>${r.resolved ? fmtSpan(r.median_resolve_seconds) + ` (${r.resolved})` : '—'}</td></tr>`).join('');
}

const exportHistory = () => histIncidents() ? download('/exports/incidents.csv?' + historyQuery(), 'lich-su-su-co.csv', $('#hist-count'))
  : download('/exports/alerts.csv?' + historyQuery(), 'lich-su-canh-bao.csv', $('#hist-count'));

async function searchIncidentHistory() {
  let pg;
  try { pg = await api('/incidents/history?' + historyQuery() + '&limit=200'); } catch (e) { $('#hist-count').textContent = e.message; return; }
  $('#hist-count').textContent = t('histIncCount', { n: pg.total });
  $('#incident-history-table tbody').innerHTML = pg.items.map((inc) => `<tr data-incident-history="${esc(inc.id)}">
    <td><span class="sev sev-${esc(inc.severity)}">${t('sev' + inc.severity)}</span></td><td><a href="#incidents" data-open-incident="${esc(inc.id)}">${esc(text(inc.title))}</a>
    <div class="note">${t('incAlertsN', { n: inc.alerts.length })}${inc.summary ? ' · ' + esc(inc.summary) : ''}</div></td>
    <td>${esc(inc.districts.join(', '))}</td><td>${esc(unitNames(inc.units))}</td><td>${fmtTime(inc.opened)}</td><td>${inc.closed ? fmtTime(inc.closed) : '—'}</td>
    <td>${stepsDone(inc)}</td><td>${t('inc' + inc.state)}</td></tr>`).join('');
}

// ---- duty log and shift handover -------------------------------------------------------------------
const alertRefs = (list) => list.length ? '<ul class="history">' + list.map((a) => `<li data-handover-alert="${esc(a.id)}"><span class="sev sev-${esc(a.severity)}">${t('sev' + a.severity)}</span>
  ${esc(S.lang === 'en' && a.title_en ? a.title_en : a.title)} <span class="note">${esc(a.district)} · ${fmtTime(a.since)}</span></li>`).join('') + '</ul>' : `<p class="note">${t('handoverNone')}</p>`;

const incidentRefs = (list) => list.length ? '<ul class="history">' + list.map((i) => `<li data-handover-incident="${esc(i.id)}"><span class="sev sev-${esc(i.severity)}">${t('sev' + i.severity)}</span>
  <a href="#incidents" data-open-incident="${esc(i.id)}">${esc(S.lang === 'en' && i.title_en ? i.title_en : i.title)}</a> <span class="note">${t('inc' + i.state)} · ${esc(i.owner || '—')} ·
  ${t('incStepsOpen', { n: i.steps_open })}${i.steps_overdue ? ` · <b class="overdue">${t('incOverdueN', { n: i.steps_overdue })}</b>` : ''}</span></li>`).join('') + '</ul>' : `<p class="note">${t('handoverNoIncidents')}</p>`;

async function drawDuty() {
  let s;
  try { s = await api('/duty/handover'); } catch (e) { $('#handover').textContent = e.message; return; }
  $('#duty-log').innerHTML = s.log.length ? s.log.map((e) => `<li data-duty-entry="${esc(e.id)}"><span class="note">${fmtTime(e.time)} · ${esc(e.author)}</span><div>${esc(e.text)}</div></li>`).join('')
    : `<li class="note">${t('dutyEmpty')}</li>`;
  const last = s.last ? `<p class="note" id="handover-last">${t('handoverLast', { out: esc(s.last.outgoing), in: esc(s.last.incoming), t: fmtTime(s.last.accepted) })}${s.last.incoming_note ? ' — ' + esc(s.last.incoming_note) : ''}</p>` : '';
  const p = s.pending;
  if (p) {
    const own = p.outgoing_id === S.me.id;
    $('#handover').innerHTML = `<h3>${t('handoverTitle')}</h3><p id="handover-waiting"><b>${t('handoverWaiting', { who: esc(p.outgoing), t: fmtTime(p.created) })}</b></p>
      <div class="notes">${esc(p.notes) || '—'}</div><h4>${t('handoverIncidentsThen', { n: (p.incidents || []).length })}</h4>${incidentRefs(p.incidents || [])}
      <h4>${t('handoverAlertsThen', { n: p.alerts.length })}</h4>${alertRefs(p.alerts)}
      ${own ? `<p class="note">${t('handoverOwn')}</p>` : `<form id="accept-form" class="toolbar"><input id="accept-note" maxlength="4000" placeholder="${t('handoverAcceptNote')}" aria-label="note">
      <button type="submit" class="primary" id="handover-accept">${t('handoverAccept')}</button></form>`}<p class="note" id="handover-msg"></p>${last}`;
    const f = $('#accept-form');
    if (f) f.onsubmit = async (ev) => {
      ev.preventDefault();
      try { await api('/duty/handovers/' + encodeURIComponent(p.id) + '/accept', { method: 'POST', body: { note: $('#accept-note').value } }); } catch (e) { $('#handover-msg').textContent = e.message; return; }
      await drawDuty();
      $('#handover-msg').textContent = t('handoverAccepted');
    };
    return;
  }
  $('#handover').innerHTML = `<h3>${t('handoverTitle')}</h3><h4>${t('handoverIncidents', { n: s.incidents.length })}</h4>${incidentRefs(s.incidents)}
    <h4>${t('handoverUnacked', { n: s.unacknowledged.length })}</h4>${alertRefs(s.unacknowledged)}
    <form id="handover-form"><textarea id="handover-notes" rows="4" maxlength="4000" placeholder="${t('handoverNotes')}" aria-label="notes"></textarea>
    <p><button type="submit" class="primary" id="handover-do">${t('handoverDo')}</button></p></form><p class="note" id="handover-msg"></p>${last}`;
  $('#handover-form').onsubmit = async (ev) => {
    ev.preventDefault();
    try { await api('/duty/handovers', { method: 'POST', body: { notes: $('#handover-notes').value } }); } catch (e) { $('#handover-msg').textContent = e.message; return; }
    drawDuty();
  };
}

async function writeDuty(ev) {
  ev.preventDefault();
  const text = $('#duty-text').value.trim();
  if (!text) return;
  try { await api('/duty/log', { method: 'POST', body: { text } }); } catch (e) { $('#handover').insertAdjacentHTML('afterbegin', `<p class="note">${esc(e.message)}</p>`); return; }
  $('#duty-text').value = '';
  drawDuty();
}

// ---- health ------------------------------------------------------------------------------------
async function drawHealth() {
  let h;
  try { h = await api('/health'); } catch (e) { $('#health-cards').textContent = e.message; return; }
  const checks = Object.entries(h.checks).map(([n, c]) => `<div class="row"><span>${esc(n)}</span><span class="${c.status === 'up' ? 'up' : 'down'}">${t(c.status)} · ${fmtNum(c.latency_ms, 1)} ms</span></div>${c.error ? '<div class="note">' + esc(c.error) + '</div>' : ''}`).join('');
  const k = S.kpi || {};
  $('#health-cards').innerHTML = `<div class="card"><h3>${t('healthChecks')}</h3>${checks}</div>
    <div class="card"><h3>${t('kpiCity')}</h3><div class="row"><span>${t('kSensors')}</span><span>${k.sensors_reporting ?? '–'} / ${k.sensors ?? '–'}</span></div>
    <div class="row"><span>${t('kCameras')}</span><span>${k.cameras_online ?? '–'} / ${k.cameras_total ?? '–'}</span></div>
    <div class="row"><span>${t('kAlerts')}</span><span>${openAlerts().length}</span></div></div>
    <div class="card"><h3>${t('version')}</h3><div class="row"><span>IOC</span><span>${esc(h.version)}</span></div>
    <div class="row"><span>${t('role')}</span><span>${esc(label('role', S.me.role))}</span></div><div class="note">${fmtTime(h.time)}</div></div>`;
  if (!can('diagnose')) return;
  drawChannels();
  drawSharing();
  let dl;
  try { dl = await api('/dead-letters/summary'); } catch (e) { return; }
  const rows = dl.reasons.map((r) => `<tr><td>${esc(dlReason(r.reason))}</td><td>${r.last_hour}</td><td>${r.last_day}</td></tr>`).join('');
  const latest = dl.latest.slice(0, 8).map((x) => `<li>${fmtTime(x.time)} · <b>${esc(dlReason(x.reason))}</b> · ${esc(x.topic)}
    <div class="note">${esc(x.detail)}</div><code>${esc(x.payload)}${x.payload_size > x.payload.length ? '…' : ''}</code></li>`).join('');
  $('#health-cards').insertAdjacentHTML('beforeend', `<div class="card wide" id="dead-letters"><h3>${t('deadLetters')}</h3>` +
    (dl.reasons.length ? `<table class="grid"><thead><tr><th>${t('dlReason')}</th><th>${t('dlHour')}</th><th>${t('dlDay')}</th></tr></thead><tbody>${rows}</tbody></table>
    <h3>${t('dlLatest')}</h3><ul class="history">${latest}</ul>` : `<p class="note">${t('dlNone')}</p>`) + '</div>');
}

// drawChannels shows each notification receiver, its units and whether its deliveries work: a
// unit whose channel keeps failing is in red.
async function drawChannels() {
  let list;
  try { list = await api('/notifications/channels'); } catch (e) { return; } // no alert engine in this process
  if (!list.length) return;
  const rows = list.map((c) => `<div class="row channel${c.failing ? ' failing' : ''}"><span>${esc(unitNames(c.units))} · ${esc(t('ch_' + c.type))} ${esc(c.receiver)}</span>
    <span class="${c.failing ? 'down' : 'up'}">${c.failing ? t('chFailing', { n: c.failures }) : c.last_status ? t('chOK') : t('chUnused')}</span></div>
    ${c.failing && c.last_error ? '<div class="note">' + esc(c.last_error) + '</div>' : ''}${c.last_ok ? `<div class="note">${t('chLastOK')}: ${fmtTime(c.last_ok)}</div>` : ''}`).join('');
  $('#channels')?.remove(); // an earlier drawing's
  $('#health-cards').insertAdjacentHTML('afterbegin', `<div class="card" id="channels"><h3>${t('channels')}</h3>${rows}</div>`);
}

// drawSharing shows the other agencies' NGSI-LD subscriptions and the pushes to their brokers:
// whose, where to, and whether the deliveries work (a failing one in red, with its error).
async function drawSharing() {
  let list;
  try { list = await api('/sharing'); } catch (e) { return; } // no subscriptions in this process
  const state = (x) => x.status === 'paused' ? t('shPaused') : x.status === 'expired' ? t('shExpired')
    : x.failing ? t('shFailing') : x.sent ? t('chOK') : t('chUnused');
  const rows = list.map((x) => `<div class="row channel${x.failing ? ' failing' : ''}"><span>${esc(t('sh_' + x.kind))} · ${esc(x.owner_name || x.owner)}${x.name ? ' · ' + esc(x.name) : ''}</span>
    <span class="${x.failing ? 'down' : 'up'}">${state(x)}</span></div><div class="note">${esc(x.endpoint)} · ${t('shSent', { n: fmtNum(x.sent) })}</div>
    ${x.failing && x.last_error ? '<div class="note">' + esc(x.last_error) + '</div>' : ''}${x.last_success ? `<div class="note">${t('chLastOK')}: ${fmtTime(x.last_success)}</div>` : ''}`).join('');
  $('#sharing')?.remove(); // an earlier drawing's
  $('#health-cards').insertAdjacentHTML('beforeend', `<div class="card" id="sharing"><h3>${t('sharing')}</h3>${rows || '<p class="note">' + t('shNone') + '</p>'}</div>`);
}

// Why a payload was rejected (ingest's and the cameras' dead-letter reasons).
const DL_REASONS = {
  vi: { empty_payload: 'rỗng', oversized: 'quá lớn', invalid_utf8: 'không phải UTF-8', malformed_json: 'JSON lỗi', missing_field: 'thiếu trường',
    wrong_type: 'sai kiểu', non_finite: 'giá trị NaN/vô cực', bad_timestamp: 'thời gian sai', future_timestamp: 'thời gian ở tương lai',
    stale_timestamp: 'dữ liệu quá cũ', unknown_sensor: 'cảm biến lạ', unknown_metric: 'đại lượng lạ', unknown_unit: 'đơn vị lạ',
    wrong_unit: 'sai đơn vị', out_of_range: 'ngoài ngưỡng vật lý', must_understand: 'trường bắt buộc hiểu (SenML)', unmapped_payload: 'không khớp ánh xạ',
    onvif_malformed: 'metadata ONVIF lỗi', onvif_text_too_long: 'metadata ONVIF quá dài', onvif_reassembly: 'metadata ONVIF thiếu gói',
    identity_mismatch: 'sai danh tính thiết bị' },
  en: { empty_payload: 'empty', oversized: 'oversized', invalid_utf8: 'not UTF-8', malformed_json: 'malformed JSON', missing_field: 'missing field',
    wrong_type: 'wrong type', non_finite: 'NaN or infinite', bad_timestamp: 'bad timestamp', future_timestamp: 'in the future',
    stale_timestamp: 'too old', unknown_sensor: 'unknown sensor', unknown_metric: 'unknown metric', unknown_unit: 'unknown unit',
    wrong_unit: 'wrong unit', out_of_range: 'out of physical range', must_understand: 'must-understand field (SenML)', unmapped_payload: 'unmapped payload',
    onvif_malformed: 'broken ONVIF metadata', onvif_text_too_long: 'ONVIF text too long', onvif_reassembly: 'ONVIF metadata packets lost',
    identity_mismatch: 'device identity mismatch' },
};
const dlReason = inLang(DL_REASONS);

// ---- wiring ------------------------------------------------------------------------------------
function tick() {
  $('#clock').textContent = new Intl.DateTimeFormat(S.lang === 'en' ? 'en-GB' : 'vi-VN', { timeZone: TZ, dateStyle: 'short', timeStyle: 'medium' }).format(new Date(serverNow())) + ' (GMT+7)';
}

// showSimulation marks a simulated province in the header, with its title and clock speed.
function showSimulation() {
  const sim = S.ui && S.ui.simulation, el = $('#sim');
  el.classList.toggle('hidden', !sim);
  if (!sim) return;
  el.textContent = (S.lang === 'en' ? sim.title_en : sim.title_vi) + (sim.speed !== 1 ? ' · ×' + sim.speed : '');
  el.title = t('simulatedHelp', { x: sim.speed });
}

document.addEventListener('click', (ev) => {
  const se = ev.target.closest('[data-silence-end]');
  if (se) { endSilence(se.dataset.silenceEnd); return; }
  const k = ev.target.closest('[data-key-act]');
  if (k) { keyAction(k.dataset.keyId, k.dataset.keyAct); return; }
  const b = ev.target.closest('[data-act]');
  if (b) { ev.stopPropagation(); act(b.dataset.id, b.dataset.act, b.dataset.ident); return; }
  const big = ev.target.closest('#wall video.live');
  if (big) { big.closest('.cam').classList.toggle('big'); return; }
  const cl = ev.target.closest('[data-clip]');
  if (cl) { playClip('/cameras/' + encodeURIComponent(cl.dataset.clip) + '/clip' + clipQuery(cl.dataset.at), $('#clip-box'), $('#clip-msg')); return; }
  const ec = ev.target.closest('[data-ev-clip]');
  if (ec) { playClip(ec.dataset.evClip, $('#ev-clip-box'), $('#ev-clip-msg')); return; }
  const ce = ev.target.closest('[data-cam-events]');
  if (ce) { showCamEvents(ce.dataset.camEvents); return; }
  if (ev.target.id === 'cam-events-close') { $('#cam-events').classList.add('hidden'); return; }
  const cd = ev.target.closest('[data-clip-download]');
  if (cd) { download('/cameras/' + encodeURIComponent(cd.dataset.clipDownload) + '/clip/download' + clipQuery(cd.dataset.at), cd.dataset.clipDownload + '.mp4', $('#clip-msg')); return; }
  const lv = ev.target.closest('[data-live-cam]');
  if (lv) { playLive(lv.dataset.liveCam); return; }
  const ia = ev.target.closest('[data-inc-act]');
  if (ia) { incidentAct(ia.dataset.id, ia.dataset.incAct); return; }
  const sd = ev.target.closest('[data-step-done]');
  if (sd) { tickStep(sd.dataset.id, sd.dataset.stepDone); return; }
  const rp = ev.target.closest('[data-inc-report]');
  if (rp) { printReport(rp.dataset.incReport); return; }
  const oi = ev.target.closest('[data-open-incident]');
  if (oi) { S.incSelected = oi.dataset.openIncident; return; } // the link goes to #incidents, which shows it
  const ra = ev.target.closest('[data-rep-act]');
  if (ra) { reportAct(ra.dataset.id, ra.dataset.repAct); return; }
  const oa = ev.target.closest('[data-open-alert]');
  if (oa) { showDetail(oa.dataset.openAlert); return; }
  const rr = ev.target.closest('tr[data-report]');
  if (rr) { showReport(rr.dataset.report); return; }
  const ir = ev.target.closest('tr[data-incident]');
  if (ir) { showIncident(ir.dataset.incident); return; }
  const row = ev.target.closest('tr[data-alert]');
  if (row) showDetail(row.dataset.alert);
});
$('#login-form').addEventListener('submit', (ev) => { ev.preventDefault(); login($('#token').value); });
$('#lang').onclick = () => { S.lang = S.lang === 'vi' ? 'en' : 'vi'; localStorage.setItem('ioc.lang', S.lang); translate(); tick(); };
$('#mute').onclick = () => { S.muted = !S.muted; translate(); };
$('#logout').onclick = logout;
$('#alarm-ack').onclick = () => { $('#alarm').classList.add('hidden'); location.hash = '#alerts'; showDetail($('#alarm').dataset.alert); };
for (const r of document.querySelectorAll('input[name=af]')) r.onchange = renderAlerts;
for (const r of document.querySelectorAll('input[name=if]')) r.onchange = renderIncidents;
$('#hist-kind').onchange = () => searchHistory();
$('#wall-layout').onchange = () => { S.wallPage = 0; S.liveErrors.clear(); drawWall(); };
$('#rep-category').onchange = () => loadReports();
$('#rep-state').onchange = () => loadReports();
$('#rep-stats-toggle').onclick = () => { const on = $('#rep-stats').classList.toggle('hidden') === false; if (on) loadReportStats(); };
$('#rep-stats-by').onchange = () => loadReportStats();
$('#wall-prev').onclick = () => wallPageBy(-1);
$('#wall-next').onclick = () => wallPageBy(1);
$('#trend-form').addEventListener('submit', (ev) => { ev.preventDefault(); showTrend(); });
$('#trend-csv').onclick = exportCSV;
$('#key-form').addEventListener('submit', createKey);
$('#rules-reload').onclick = reloadRules;
$('#history-form').addEventListener('submit', searchHistory);
$('#duty-form').addEventListener('submit', writeDuty);
setupMapControls();
$('#hist-csv').onclick = exportHistory;
document.addEventListener('submit', (ev) => {
  const f = ev.target.closest('.silence-form, #silence-new');
  if (f) { ev.preventDefault(); createSilence(f); }
});
window.addEventListener('hashchange', route);
window.addEventListener('resize', () => { if (S.view === 'map') drawMap(); if (S.view === 'screen') drawScreen(); });
setInterval(tick, 1000);
tick();
translate();
if (S.token) login(S.token); else showLogin('');
