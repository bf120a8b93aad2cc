package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Peer names. "rampart" is the lb in terminate mode (plain HTTP to the
// backends, as HAProxy, nginx and Caddy are configured), without
// monitoring; "rampart-reencrypt" is the same lb speaking mutual TLS to
// them; "rampart-monitored" is the same lb with its server's monitoring
// client on, scraped every second.
const (
	PeerHAProxy          = "haproxy"
	PeerNginx            = "nginx"
	PeerCaddy            = "caddy"
	PeerRampart          = "rampart"
	PeerRampartReencrypt = "rampart-reencrypt"
	PeerRampartMonitored = "rampart-monitored"
	// PeerHAProxyControl is a second HAProxy with the same config as the
	// first, and PeerRampartControl a second rampart lb like PeerRampart,
	// both run with Options.Control: a twin's ratio to its original is what
	// this machine's noise alone makes of two identical proxies in the same
	// run.
	PeerHAProxyControl = "haproxy-control"
	PeerRampartControl = "rampart-control"
)

// rampartPeers are the peers that are rampart's own lb, in report order.
var rampartPeers = []string{PeerRampart, PeerRampartReencrypt, PeerRampartMonitored}

// ThirdParty are the peers rampart is measured against, in report order.
var ThirdParty = []string{PeerHAProxy, PeerNginx, PeerCaddy}

// controlPeers are the peers Options.Control adds, in report order: they
// come after the third parties and before rampart's.
var controlPeers = []string{PeerHAProxyControl, PeerRampartControl}

// twinOf is the peer each control copies.
var twinOf = map[string]string{PeerHAProxyControl: PeerHAProxy, PeerRampartControl: PeerRampart}

// hstsValue is what rampart's lb sends by default (365 days); every peer
// sends the same.
const hstsValue = "max-age=31536000; includeSubDomains"

// Mozilla's intermediate profile, as rampart's lb applies it (lb.PublicTLS):
// the TLS 1.2 suites in OpenSSL's names, and TLS 1.3 suites with AES-128-GCM
// first, which is what Go's server picks on AES hardware. OpenSSL peers are
// told to prefer their own order, so every peer negotiates the same cipher
// with wrk and the preflight shows it.
const (
	tls12Ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
	tls13Suites  = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
)

// peerConf is what a third-party peer's configuration is made from.
type peerConf struct {
	Listen   string   // 127.0.0.1:port, HTTPS
	Backends []string // the plain-HTTP backends, host:port
	Certs    Certs
	Dir      string // the peer's own directory for its config and state
}

// haproxyConfig mirrors rampart's lb: TLS termination, round robin with
// health checks every second (rise 2, fall 3), two retries, keep-alive
// connections to the backends shared between clients (http-reuse always,
// like Go's transport pool), the edge headers rampart sets, no logging.
func haproxyConfig(c peerConf) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by rampart's bench harness.
global
	maxconn 8000
	ssl-default-bind-ciphers %s
	ssl-default-bind-ciphersuites %s
	ssl-default-bind-options ssl-min-ver TLSv1.2

defaults
	mode http
	timeout connect 5s
	timeout client 120s
	timeout server 30s
	timeout http-keep-alive 120s
	timeout http-request 10s
	option http-keep-alive

frontend https
	bind %s ssl crt %s alpn h2,http/1.1
	unique-id-format %%[uuid()]
	http-request set-header X-Forwarded-For %%[src]
	http-request set-header X-Forwarded-Proto https
	http-request set-header X-Forwarded-Host %%[req.hdr(host)]
	http-request set-header X-Request-Id %%[unique-id]
	http-request set-header Via "1.1 haproxy"
	http-response set-header Strict-Transport-Security "%s"
	http-response set-header X-Request-Id %%[unique-id]
	default_backend web

backend web
	balance roundrobin
	http-reuse always
	retries 2
	option redispatch
	option httpchk GET %s
`, tls12Ciphers, tls13Suites, c.Listen, c.Certs.SitePEM, hstsValue, PathHealth)
	for i, a := range c.Backends {
		fmt.Fprintf(&b, "\tserver %s %s check inter 1s rise 2 fall 3\n", backendName(i), a)
	}
	return b.String()
}

// nginxHead is the start of every nginx config the harness writes, up to
// and inside the http block: main lines first, then pid, logs, temporary
// files and keep-alive limits, all under dir.
func nginxHead(main, dir string) string {
	return main + fmt.Sprintf(`pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
daemon off;

events {
	worker_connections 4096;
}

http {
	access_log off;
	client_body_temp_path %[1]s/tmp/body;
	proxy_temp_path %[1]s/tmp/proxy;
	fastcgi_temp_path %[1]s/tmp/fastcgi;
	uwsgi_temp_path %[1]s/tmp/uwsgi;
	scgi_temp_path %[1]s/tmp/scgi;
	keepalive_timeout 120s;
	keepalive_requests 1000000;
`, dir)
}

// nginxConfig mirrors rampart's lb in nginx's terms. Open-source nginx has
// no active health checks; it retries on error and timeout (its default).
// Buffers hold a 100 KiB response in memory, so no temp file is written.
func nginxConfig(c peerConf) string {
	var b strings.Builder
	b.WriteString(nginxHead("# Written by rampart's bench harness.\nworker_processes auto;\nworker_rlimit_nofile 16384;\n", c.Dir))
	b.WriteString(`
	upstream web {
`)
	for _, a := range c.Backends {
		fmt.Fprintf(&b, "\t\tserver %s;\n", a)
	}
	fmt.Fprintf(&b, `		keepalive 256;
		keepalive_requests 1000000;
	}

	server {
		listen %s ssl http2;
		server_name %s;
		ssl_certificate %s;
		ssl_certificate_key %s;
		ssl_protocols TLSv1.2 TLSv1.3;
		ssl_ciphers %s;
		ssl_conf_command Ciphersuites %s;
		ssl_prefer_server_ciphers on;
		ssl_session_cache shared:SSL:10m;
		ssl_session_tickets on;
		add_header Strict-Transport-Security "%s" always;
		add_header X-Request-Id $request_id always;

		location / {
			proxy_pass http://web;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			# $host, unlike $http_host, is never empty: an HTTP/1.0 request
			# without Host (openssl s_time) still reaches the backend valid.
			proxy_set_header Host $host;
			proxy_set_header X-Forwarded-For $remote_addr;
			proxy_set_header X-Forwarded-Proto https;
			proxy_set_header X-Forwarded-Host $http_host;
			proxy_set_header X-Request-Id $request_id;
			proxy_set_header Via "1.1 nginx";
			proxy_buffers 16 16k;
			proxy_next_upstream error timeout;
			proxy_next_upstream_tries 3;
		}
	}
}
`, c.Listen, Domain, c.Certs.SiteCert, c.Certs.SiteKey, tls12Ciphers, tls13Suites, hstsValue)
	return b.String()
}

// caddyConfig mirrors rampart's lb in a Caddyfile. Caddy is Go, like
// rampart, so its TLS is the same crypto/tls. HTTP/3 is off (rampart has
// none), as are the admin API and automatic HTTPS; Caddy sets the
// X-Forwarded-* headers itself.
func caddyConfig(c peerConf) string {
	host, port := splitHostPort(c.Listen)
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by rampart's bench harness.
{
	admin off
	auto_https off
	storage file_system %s/data
	servers {
		protocols h1 h2
	}
}

:%s {
	bind %s
	tls %s %s {
		protocols tls1.2 tls1.3
	}
	header Strict-Transport-Security "%s"
	header X-Request-Id {http.request.uuid}
	reverse_proxy %s {
		lb_policy round_robin
		lb_retries 2
		health_uri %s
		health_interval 1s
		health_timeout 1s
		header_up X-Request-Id {http.request.uuid}
		header_up Via "1.1 caddy"
		transport http {
			keepalive 90s
			keepalive_idle_conns_per_host 256
		}
	}
}
`, c.Dir, port, host, c.Certs.SiteCert, c.Certs.SiteKey, hstsValue, strings.Join(c.Backends, " "), PathHealth)
	return b.String()
}

func splitHostPort(hp string) (string, string) {
	i := strings.LastIndexByte(hp, ':')
	if i < 0 {
		return hp, ""
	}
	return hp[:i], hp[i+1:]
}

// thirdParty describes how to configure and start one third-party peer.
type thirdParty struct {
	name    string
	bin     string // looked up in PATH
	file    string // its config file's name
	config  func(peerConf) string
	args    func(conf string) []string
	env     func(dir string) []string
	version []string // arguments that print its version
}

var thirdParties = map[string]thirdParty{
	PeerHAProxy: {
		name: PeerHAProxy, bin: "haproxy", file: "haproxy.cfg", config: haproxyConfig,
		args:    func(conf string) []string { return []string{"-db", "-f", conf} },
		version: []string{"-v"},
	},
	PeerNginx: {
		name: PeerNginx, bin: "nginx", file: "nginx.conf", config: nginxConfig,
		args:    func(conf string) []string { return []string{"-p", filepath.Dir(conf), "-c", conf} },
		version: []string{"-v"},
	},
	PeerCaddy: {
		name: PeerCaddy, bin: "caddy", file: "Caddyfile", config: caddyConfig,
		args: func(conf string) []string { return []string{"run", "--config", conf, "--adapter", "caddyfile"} },
		// Caddy keeps its state under HOME and XDG dirs; keep them in its
		// own directory, not the user's.
		env: func(dir string) []string {
			return []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir + "/data", "XDG_CONFIG_HOME=" + dir + "/config"}
		},
		version: []string{"version"},
	},
}

// HAProxy's twin is HAProxy under another name, so in its own directory
// and on its own port.
func init() {
	tp := thirdParties[PeerHAProxy]
	tp.name = PeerHAProxyControl
	thirdParties[PeerHAProxyControl] = tp
}

// writeConfig writes the peer's config into c.Dir and returns its path.
func (t thirdParty) writeConfig(c peerConf) (string, error) {
	for _, d := range []string{c.Dir, c.Dir + "/tmp", c.Dir + "/data"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", fmt.Errorf("%s: %w", t.name, err)
		}
	}
	path := filepath.Join(c.Dir, t.file)
	if err := os.WriteFile(path, []byte(t.config(c)), 0o644); err != nil {
		return "", fmt.Errorf("%s: %w", t.name, err)
	}
	return path, nil
}

var versionRe = regexp.MustCompile(`v?\d+\.\d+(\.\d+)?`)

// toolVersion runs bin with args and returns the first version number it
// prints, or "?".
func toolVersion(bin string, args ...string) string {
	out, _ := exec.Command(bin, args...).CombinedOutput()
	if v := versionRe.Find(out); v != nil {
		return strings.TrimPrefix(string(v), "v")
	}
	return "?"
}
