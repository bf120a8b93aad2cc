package topology

import "time"

// applyDefaults fills every setting the file left out with its safe default.
func (t *Topology) applyDefaults() {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	defDur := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	defPtr := func(p **int, v int) {
		if *p == nil {
			*p = &v
		}
	}
	if t.Site.Domain == "" {
		t.Site.Domain = "www.foobar.com"
	}
	def(&t.Site.HTTPSPort, 443)
	def(&t.Site.HTTPPort, 80)

	if t.TLS.Policy == "" {
		t.TLS.Policy = Reencrypt
	}
	if t.TLS.MinVersion == "" {
		t.TLS.MinVersion = "1.2"
	}
	defDur(&t.TLS.HSTS, 365*24*time.Hour)
	if t.TLS.Certificate.Source == "" {
		t.TLS.Certificate.Source = CertFromCA
	}

	if t.LB.Algorithm == "" {
		t.LB.Algorithm = "round_robin"
	}
	defPtr(&t.LB.Retries, 2)
	defDur(&t.LB.DrainTimeout, 10*time.Second)
	defDur(&t.LB.Limits.BanFor, time.Minute)
	if t.LB.Health.Path == "" {
		t.LB.Health.Path = "/healthz"
	}
	defDur(&t.LB.Health.Interval, 1*time.Second)
	defDur(&t.LB.Health.Timeout, 1*time.Second)
	def(&t.LB.Health.Rise, 2)
	def(&t.LB.Health.Fall, 3)

	if t.Database.Replication == "" {
		t.Database.Replication = Galera
	}
	if t.Database.Name == "" {
		t.Database.Name = "app"
	}
	defPtr(&t.Database.Durable.FlushLogAtTrxCommit, 1)
	defPtr(&t.Database.Durable.SyncBinlog, 1)

	defDur(&t.Monitoring.ScrapeInterval, 5*time.Second)
	defDur(&t.Monitoring.Retention, time.Hour)

	def(&t.Ports.Web, 8081)
	def(&t.Ports.App, 8082)
	def(&t.Ports.AppProcess, 8083)
	def(&t.Ports.Admin, 9443)
	def(&t.Ports.MySQL, 3306)
	def(&t.Ports.Galera, 4567)
	def(&t.Ports.IST, 4568)
	def(&t.Ports.SST, 4444)
	def(&t.Ports.SSH, 22)
	def(&t.Ports.Dashboard, 9444)
}
