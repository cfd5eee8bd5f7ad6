# Hải Đăng IOC. The two commands a newcomer needs:
#   make demo   start the local servers, migrate, run the server with the simulated province
#   make test   start the local servers, lint, and run the whole test suite against them
SHELL := /bin/bash
GO ?= go
# The Go release every target builds, tests and scans with: the go command takes it from the
# module proxy the first time (about 10 s). Go 1.26.8, the machines' own, has standard library
# vulnerabilities that `make security` finds (net/http, crypto/x509, crypto/tls); 1.27.3 has
# their fixes. Plain `go` commands still work on 1.26 (go.mod asks no more).
export GOTOOLCHAIN ?= go1.27.3
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Tools are built with the toolchain they analyse (a staticcheck built by 1.26 cannot read 1.27).
TOOLS := $(CURDIR)/.data/tools/$(GOTOOLCHAIN)
STATICCHECK_VERSION := v0.8.2
GOVULNCHECK_VERSION := v1.9.0
# govulncheck reads this snapshot of the Go vulnerability database (golang.org/x/vulndb, from the
# module proxy: no internet needed), indexed under .data/vulndb by vulndb's own indexdb.
VULNDB_VERSION := v0.0.0-20261105234957-e22db6528018
VULNDB := $(CURDIR)/.data/vulndb/$(VULNDB_VERSION)
# A count, not a duration: with -fuzztime 10s Go 1.26 can fail a clean run with "context
# deadline exceeded" at the deadline (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 100000x

# The servers deploy/local/services.sh starts; tests find them through these.
export IOC_TEST_CLICKHOUSE_ADDR ?= 127.0.0.1:$(or $(IOC_LOCAL_CLICKHOUSE_PORT),9000)
export IOC_TEST_MQTT_BROKER ?= tcp://127.0.0.1:$(or $(IOC_LOCAL_MQTT_PORT),1883)
export IOC_TEST_CLICKHOUSE_SECURE_ADDR ?= 127.0.0.1:$(or $(IOC_LOCAL_CLICKHOUSE_SECURE_PORT),9440)
export IOC_TEST_CLICKHOUSE_CA ?= $(or $(IOC_LOCAL_DATA),$(CURDIR)/.data/local)/tls/ca.crt
# The local cluster deploy/local/cluster.sh starts (the failover tests).
export IOC_TEST_CLUSTER_ADDR ?= 127.0.0.1:9101,127.0.0.1:9102
export IOC_TEST_CLUSTER_SHARD2_ADDR ?= 127.0.0.1:9103
export IOC_TEST_ZOOKEEPER ?= 127.0.0.1:$(or $(IOC_CLUSTER_ZOOKEEPER_PORT),2181)
export IOC_TEST_CLUSTER_BROKERS ?= tcp://127.0.0.1:1891,tcp://127.0.0.1:1892,tcp://127.0.0.1:1893

.PHONY: demo test build services services-stop seaweedfs cluster cluster-servers cluster-stop lint fuzz security bench bench-ingest bench-cameras bench-analytics bench-alerts bench-dashboard bench-cluster bench-video clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ioc ./cmd/ioc

services:
	deploy/local/services.sh start

services-stop:
	deploy/local/services.sh stop

# SeaweedFS, built from its Go module: the S3-compatible server the photo store's tests run.
seaweedfs:
	deploy/local/seaweedfs.sh build

# The local cluster: ZooKeeper, two ClickHouse replicas of one shard, a three-node MQTT broker
# cluster, and ioc split by roles on them with a simulated province (docs/OPERATIONS.md); the
# operators' UI on http://127.0.0.1:8090/. cluster-servers: the servers only (the tests').
cluster: build
	deploy/local/cluster.sh start-ioc

cluster-servers:
	deploy/local/cluster.sh start

cluster-stop:
	deploy/local/cluster.sh stop

# make demo [PROVINCE=ben-tre] [SCENARIO=flash_flood|saltwater_intrusion|rush_hour_jam|gateway_outage]
# A scenario runs the whole server on the scenario's accelerated clock (ioc sim province --list).
demo: services build
	bin/ioc migrate --config deploy/config/demo.yaml
	@echo
	@echo "  Hải Đăng IOC is starting with a simulated province ($(or $(SCENARIO),live $(or $(PROVINCE),lao-cai))):"
	@echo "    UI       http://localhost:8080/   log in with a demo token (public, loopback only):"
	@echo "               demo-operator  trực ban IOC (duty officer: every alert, acknowledge, silence)"
	@echo "               demo-admin     quản trị (everything, rules reload, audit log)"
	@echo "               demo-flood     Ban chỉ huy PCTT (unit: flood-control alerts only)"
	@echo "               demo-police    Công an tỉnh (unit: police, fire police, traffic police)"
	@echo "               demo-analyst   phân tích (history, trends, exports; cannot acknowledge)"
	@echo "               demo-viewer    màn hình tường (wall screen: read only)"
	@echo "               demo-app       the simulated citizen app (citizen reports only)"
	@echo "               demo-partner   another agency (the NGSI-LD API only)"
	@echo "    API      http://localhost:8080/api/v1/openapi.json"
	@echo "    NGSI-LD  http://localhost:8080/ngsi-ld/v1/entities?type=WaterObserved (Bearer demo-partner; docs/NGSI-LD.md)"
	@echo "    health   http://localhost:8080/healthz   metrics http://localhost:8080/metrics"
	@echo "    warnings http://localhost:8080/cap/feed.atom (CAP 1.2, marked Exercise: the province is simulated)"
	@echo "    data     clickhouse-client --query 'SELECT * FROM ioc.readings ORDER BY ts DESC LIMIT 10'"
	@echo "  Ctrl-C stops the server; 'make services-stop' stops ClickHouse and Mosquitto."
	@echo
	$(strip $(if $(PROVINCE),IOC_SIMULATOR_PROVINCE=$(PROVINCE)) $(if $(SCENARIO),IOC_SIMULATOR_SCENARIO=$(SCENARIO)) bin/ioc serve --config deploy/config/demo.yaml)

test: services seaweedfs cluster-servers lint
	$(GO) test -count=1 -timeout 15m ./...
	$(MAKE) --no-print-directory fuzz

# make security: the known vulnerabilities of the code as built (govulncheck, against the pinned
# database), then the tests of authentication, roles, device accounts and ACLs, TLS, warning
# approval and webhook signatures.
SECURITY_TESTS := TestRolesOnEveryRoute|TestCitizenReports|TestPhotoRefusals|TestStillFromONVIF|TestHostileCamera|TestUnitSeesOnlyItsAlerts|TestKeyLifecycle|TestExpiredConfigKey|TestWarningApproval|TestRefusedTokensAreThrottled|TestBearerSchemeIsCaseInsensitive|TestSecurityHeaders|TestMetricsGuard|TestJWT|TestAPIKeys|TestGrants|TestPlan|TestSyncAgainstMosquitto|TestMutualTLS|TestExpiredCertificates|TestReload|TestIdentityMismatch|TestSecureLinks|TestDescribeRTSPS|TestWebhookVerifier|TestCAPApproval|TestCAPExerciseAndSuspect|TestPlausib
security: services $(TOOLS)/govulncheck $(VULNDB)/index/db.json
	$(TOOLS)/govulncheck -db file://$(VULNDB) ./...
	$(GO) test -count=1 -run '^($(SECURITY_TESTS))' ./dashboard/... ./ingest/... ./internal/tlsconf/ ./alerts/ ./streams/... ./cmd/ioc/

$(TOOLS)/govulncheck:
	GOBIN=$(TOOLS) $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)

$(VULNDB)/index/db.json:
	GOBIN=$(TOOLS) $(GO) install golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION)
	rm -rf $(VULNDB) && mkdir -p $(dir $(VULNDB))
	osv=$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p')/data/osv && \
	  $(TOOLS)/indexdb -vulns "$$osv" -out $(VULNDB)

$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(TOOLS)/staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...

# Every decoder's and parser's fuzz target, for a bounded time each.
FUZZ_TARGETS := ingest:FuzzJSONDecoder ingest:FuzzSenMLDecoder ingest:FuzzTTNDecoder ingest:FuzzMappedDecoder \
	ingest:FuzzFrigateDecoder streams:FuzzParseMetadata
fuzz:
	@for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; target=$${t#*:}; \
	  echo "fuzz $$target ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) ./$$pkg/ || exit 1; \
	done

bench-ingest: services build
	$(GO) run ./cmd/ioc-bench ingest -ioc bin/ioc

# 2,000 simulated cameras in metadata mode and 300 in health mode, watched by `ioc serve`.
bench-cameras: services build
	$(GO) run ./cmd/ioc-bench cameras -ioc bin/ioc

# 100 million generated readings (kept in database bench_analytics between runs); representative
# queries through the rollups against the same answers from the raw table.
bench-analytics: services build
	$(GO) run ./cmd/ioc-bench analytics

# The engine's evaluation of rules x sensors and the incidents' cost per alert event (no I/O),
# then the latency from the MQTT publish of a reading crossing báo động I to the alert stored
# and to the webhook received, under 20,000 readings/s, against the broker's own round trip.
bench-alerts: services build
	$(GO) test -run '^$$' -bench 'Evaluate|AlertChanged' ./alerts ./alerts/incident
	$(GO) run ./cmd/ioc-bench alerts -ioc bin/ioc

# 500 WebSocket clients of the live hub while 20,000 readings/s flow: delivery latency from the
# MQTT publish of a reading to every client watching its district, and the server's CPU; then
# the NGSI-LD notifier's cost per tick (no I/O) and 50 partners' subscriptions under the same
# load: latency from the MQTT publish of a reading to its notifications.
bench-dashboard: services build
	$(GO) run ./cmd/ioc-bench dashboard -ioc bin/ioc
	$(GO) test -run '^$$' -bench Observe ./dashboard/ngsild/notify
	$(GO) run ./cmd/ioc-bench ngsild -ioc bin/ioc

# Two ioc processes into two ClickHouse replicas against one into one node; the alert leader
# killed ten times (time to the standby's first notification of a new alert).
bench-cluster: services cluster-servers build
	$(GO) run ./cmd/ioc-bench cluster -ioc bin/ioc

# 16 cameras' live tiles opened together in Chromium (WebRTC through MediaMTX, each asking ioc):
# time to each tile's first decoded frame against the cameras' own first keyframe over RTSP,
# and MediaMTX's and ioc's CPU with the 16 viewers.
bench-video: services build
	$(GO) run ./cmd/ioc-bench video -ioc bin/ioc

bench: bench-ingest bench-cameras bench-analytics bench-alerts bench-dashboard bench-cluster bench-video

clean:
	rm -rf bin
