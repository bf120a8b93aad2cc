package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childMode makes the test binary act as a supervised program when the
// supervisor tests start it again.
const childMode = "RAMPART_APP_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childMode) {
	case "":
		os.Exit(m.Run())
	case "http":
		os.Exit(runTestServer())
	case "supervise":
		os.Exit(runTestSupervisor())
	case "demo":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		if err := RunDemo(ctx, net.JoinHostPort(os.Getenv("HOST"), os.Getenv("PORT")), os.Getenv("RAMPART_SERVER")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown", childMode)
		os.Exit(2)
	}
}

// runTestServer listens on $HOST:$PORT, once the file named by $GATE exists
// if GATE is set, and answers /pid and /env.
func runTestServer() int {
	if gate := os.Getenv("GATE"); gate != "" {
		for {
			if _, err := os.Stat(gate); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(os.Getenv("HOST"), os.Getenv("PORT")))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		return 1
	}
	fmt.Println("test server listening on", ln.Addr())
	mux := http.NewServeMux()
	mux.HandleFunc("/pid", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, os.Getpid())
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		json.NewEncoder(w).Encode(env)
	})
	http.Serve(ln, mux)
	return 1
}

// runTestSupervisor supervises $COMMAND (run by sh) until it is killed, to
// show what happens to the program when rampart dies.
func runTestSupervisor() int {
	s, err := NewSupervisor(Config{
		Name:    "app-1",
		Command: []string{"sh", "-c", os.Getenv("COMMAND")},
		Addr:    "127.0.0.1:1",
		LogPath: os.Getenv("LOGPATH"),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := s.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return 1
}

// testBinary returns the path of this test binary, to start it as a child.
func testBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// eventually fails the test unless cond becomes true within timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
