// Package ngsild represents the province as NGSI-LD entities (ETSI GS CIM 009) on FIWARE's
// Smart Data Models, and answers the core API's entity queries over them: the sensors as
// WaterObserved, WeatherObserved, WaterQualityObserved and TrafficFlowObserved with a Device
// each, the cameras as Camera, the live alerts as Alert; type, id, idPattern, q (the NGSI-LD
// query language), attrs, georel (near, within), limit, offset and count; normalized or
// keyValues; the temporal query's parameters; subscriptions (checked, compiled to a Filter
// that selects entities and sums up their watched attributes) and their notifications;
// errors as ProblemDetails with the specification's type URIs. Its @context is embedded
// (Context) and served by the dashboard, so that no answer needs the internet to be
// understood. It is pure: the dashboard hands it a Snapshot and serves what it answers;
// package notify delivers the subscriptions.
package ngsild
