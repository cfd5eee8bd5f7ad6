// Package provincesim is the simulated province that `make demo` and `ioc sim province` run: a
// Lào Cai–like mountain province and a Bến Tre–like delta province (provinces/*.yaml), with
// their sensors at real places publishing to the real broker in the formats real devices use
// (river gauges and salinity stations SenML, LoRaWAN rain gauges and weather stations The
// Things Stack uplinks, SCADA gateways generic JSON, the security cameras' NVR Frigate events),
// and their cameras served over RTSP by the camera simulator.
//
// The model (model.go) is physical enough for the alerts to mean something: rain storms by
// season and hour, rivers answering their catchment's rain through a unit hydrograph, tides
// and the dry season driving salinity, rush hours and border-gate hours driving traffic. Every
// value is a pure function of the seed, the sensor and the simulated time, so a run is the
// same for a given seed at any speed. Scenarios (scenarios.yaml) script what goes wrong —
// a flash flood, a saltwater-intrusion week, a rush-hour jam with a camera offline, a gateway
// outage — and list the alerts each must raise; a Clock plays them faster than real time.
package provincesim
