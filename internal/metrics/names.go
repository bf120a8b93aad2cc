package metrics

// Metric names. Counters end in _total, durations are in seconds and sizes
// in bytes, as the Prometheus conventions ask. Every metric a server
// exports also carries the label server="NAME", added by its registry.
const (
	// HTTP servers of the lb, web and app roles; labels role, method,
	// code_class (1xx..5xx).
	HTTPRequests        = "rampart_http_requests_total"
	HTTPRequestDuration = "rampart_http_request_duration_seconds"
	HTTPInFlight        = "rampart_http_requests_in_flight"        // label role
	HTTPReceivedBytes   = "rampart_http_request_body_bytes_total"  // label role
	HTTPSentBytes       = "rampart_http_response_body_bytes_total" // label role

	// TLS listeners; label listener (the flow's service: https, web, app,
	// admin, dashboard).
	TLSHandshakes        = "rampart_tls_handshakes_total"
	TLSHandshakeFailures = "rampart_tls_handshake_failures_total"
	// CertExpiry is the seconds left until a certificate expires; label
	// certificate (site, server, client, ca).
	CertExpiry = "rampart_tls_certificate_expiry_seconds"

	// The lb's and the web servers' view of their backends; labels service
	// (the flow's service: web for lb -> web, app for web -> app) and
	// backend (the upstream server's name).
	BackendUp        = "rampart_backend_up" // 1 while the active health check passes
	BackendEjected   = "rampart_backend_ejected"
	BackendEjections = "rampart_backend_ejections_total"
	BackendRequests  = "rampart_backend_requests_total" // attempts, retries included
	BackendFailures  = "rampart_backend_failures_total" // attempts that got no response
	BackendRetries   = "rampart_backend_retries_total"
	BackendInFlight  = "rampart_backend_requests_in_flight"
	AppRestarts      = "rampart_app_restarts_total"
	AppUp            = "rampart_app_up"
	ServerInfo       = "rampart_server_info" // labels roles; value 1
	// ScrapeTime is when the server read the metrics it is sending, in
	// Unix seconds. The collector times its rates by it rather than by the
	// round trip, which a busy server or network stretches.
	ScrapeTime        = "rampart_scrape_timestamp_seconds"
	ProcessCPUSeconds = "process_cpu_seconds_total"
	ProcessResident   = "process_resident_memory_bytes"
	ProcessOpenFDs    = "process_open_fds"

	// The host, from /proc (package procfs).
	HostCPUSeconds       = "rampart_host_cpu_seconds_total" // label mode
	HostCPUs             = "rampart_host_cpus"
	HostMemoryTotal      = "rampart_host_memory_total_bytes"
	HostMemoryAvailable  = "rampart_host_memory_available_bytes"
	HostDiskReadBytes    = "rampart_host_disk_read_bytes_total"    // label device
	HostDiskWrittenBytes = "rampart_host_disk_written_bytes_total" // label device
	HostDiskIOSeconds    = "rampart_host_disk_io_time_seconds_total"
	HostNetReceiveBytes  = "rampart_host_network_receive_bytes_total"  // label device
	HostNetTransmitBytes = "rampart_host_network_transmit_bytes_total" // label device
	HostFDsAllocated     = "rampart_host_file_descriptors_allocated"
	HostFDsMax           = "rampart_host_file_descriptors_max"

	// The database, exported by the db role's collector. These names are
	// the contract between that collector and the collector's alert rules.
	DBUp                 = "rampart_db_up"                  // 1 while mariadbd answers
	DBQuestions          = "rampart_db_questions_total"     // from SHOW GLOBAL STATUS Questions
	DBConnections        = "rampart_db_connections"         // Threads_connected
	DBReplicationHealthy = "rampart_db_replication_healthy" // 1 when the replica's threads run, or wsrep is Synced
	DBClusterSize        = "rampart_db_cluster_size"        // wsrep_cluster_size, or 1 + connected replicas

	// The firewall's counters, exported by the firewall role's collector;
	// labels chain and verdict.
	FirewallPackets = "rampart_firewall_packets_total"
	FirewallBytes   = "rampart_firewall_bytes_total"

	// The collector's own health.
	MonitorScrapes        = "rampart_monitor_scrapes_total"        // label result
	MonitorSeries         = "rampart_monitor_series"               // series held in memory
	MonitorSeriesDropped  = "rampart_monitor_series_dropped_total" // over the per-server limit
	MonitorMemoryBound    = "rampart_monitor_memory_bound_bytes"   // the most its history may use
	MonitorAlertsFiring   = "rampart_monitor_alerts_firing"
	MonitorScrapeDuration = "rampart_monitor_scrape_duration_seconds"
)

// Label names.
const (
	LabelServer      = "server"
	LabelRole        = "role"
	LabelMethod      = "method"
	LabelCodeClass   = "code_class"
	LabelListener    = "listener"
	LabelService     = "service"
	LabelBackend     = "backend"
	LabelCertificate = "certificate"
	LabelMode        = "mode"
	LabelDevice      = "device"
)

// LatencyBuckets are the upper bounds of the request duration histogram, in
// seconds: fine below 10ms, where a proxied request on a LAN lives, and up
// to 10s, past which a client has long given up.
var LatencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// CodeClasses are the values of the code_class label, by status/100.
var CodeClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// Methods are the request methods counted by name; any other is "OTHER", so
// a client cannot grow the number of series by inventing methods.
var Methods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "OTHER"}
