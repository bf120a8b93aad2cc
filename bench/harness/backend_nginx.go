package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Backend kinds for Options.Backends.
const (
	// BackendsGo runs `rampart-bench backend`: Go's net/http, the server a
	// rampart web role runs, with a mutual-TLS listener for reencrypt.
	BackendsGo = "go"
	// BackendsNginx runs one nginx per backend (one worker each) serving the
	// same bodies and headers over plain HTTP. It costs the backends less
	// and has no Go scheduler of its own, so more of what the load
	// measures is the proxy in front of them. It has no mTLS listener, so
	// the reencrypt scenario needs the Go backends.
	BackendsNginx = "nginx"
)

// nginxBackendConfig is a backend in nginx's terms: the small body and the
// health check from memory, the 100 KiB body from a file in dir, the
// backend's name and protocol in the same headers the Go backends set,
// and keep-alive connections that last the whole run.
//
// As root, nginx runs its workers as nobody, who may not reach a results
// directory under root's home or a 0700 temporary one; the worker then
// runs as root, like every other process of the benchmark.
func nginxBackendConfig(name, listen, dir string) string {
	small := strings.TrimSuffix(string(fill(SmallBodySize)), "\n")
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;\n"
	}
	head := nginxHead(fmt.Sprintf("# Written by rampart's bench harness: backend %s.\n%sworker_processes 1;\n", name, user), dir)
	return head + fmt.Sprintf(`	default_type "text/plain; charset=utf-8";
	etag off;

	server {
		listen %[2]s;
		add_header %[4]s %[1]s always;
		add_header %[5]s http always;

		location = %[6]s {
			return 200 "%[7]s\n";
		}
		location = %[8]s {
			return 200 "%[7]s\n";
		}
		location = %[9]s {
			alias %[3]s/large.txt;
		}
	}
}
`, name, listen, dir, HeaderBackend, HeaderBackendProto, PathSmall, small, PathHealth, PathLarge)
}

// writeNginxBackend writes backend name's config and its 100 KiB body into
// dir and returns the config's path.
func writeNginxBackend(name, listen, dir string) (string, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return "", fmt.Errorf("backend %s: %w", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "large.txt"), fill(LargeBodySize), 0o644); err != nil {
		return "", fmt.Errorf("backend %s: %w", name, err)
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxBackendConfig(name, listen, dir)), 0o644); err != nil {
		return "", fmt.Errorf("backend %s: %w", name, err)
	}
	return conf, nil
}

// withoutReencrypt drops the reencrypt scenario, which needs the Go
// backends' mutual-TLS listener. Asked for by name (byDefault false), it is
// an error instead: the user wanted something this run cannot measure.
func withoutReencrypt(scenarios []Scenario, byDefault bool) ([]Scenario, error) {
	var out []Scenario
	for _, s := range scenarios {
		if s.Name != "reencrypt" {
			out = append(out, s)
			continue
		}
		if !byDefault {
			return nil, fmt.Errorf("the reencrypt scenario needs the Go backends (nginx backends have no mutual-TLS listener): leave out --backends nginx, or reencrypt from --scenarios")
		}
	}
	return out, nil
}
