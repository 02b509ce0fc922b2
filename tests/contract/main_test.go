// Package contract checks `nomad-singleton sim` against HashiCorp's own Go API client
// (github.com/hashicorp/nomad/api, MPL-2.0). TestMain starts one simulator per Nomad version
// profile and ACL mode and shares it among the tests; every test runs once per simulator, as a
// parallel subtest named after it ("2.0-acl", "1.10-noacl", ...).
//
// NSG_BIN names the nomad-singleton binary (ctest passes it); NSG_REPO the repository root
// (default: two directories up), for the render checks.
package contract

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// timeScale is the simulators' virtual seconds per wall second: a lock takeover (2×TTL +
// LockDelay = 21 virtual seconds) then takes about a second of wall time.
const timeScale = 20.0

// profiles are the --nomad-version profiles the project supports (docs/simulator.md).
var profiles = []string{"1.10", "1.11", "2.0"}

// sim is one running simulator.
type sim struct {
	name     string // "2.0-acl"
	profile  string
	acl      bool
	addr     string
	token    string // management token ("" without ACLs)
	allocDir string
	cmd      *exec.Cmd
	stderr   *os.File
}

var (
	sims    []*sim
	nsgBin  string
	repoDir string
)

func TestMain(m *testing.M) {
	// The api package reads the Nomad CLI's environment; the suite must not talk to a real
	// cluster by accident.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "NOMAD_") {
			os.Unsetenv(k)
		}
	}
	nsgBin = os.Getenv("NSG_BIN")
	repoDir = os.Getenv("NSG_REPO")
	if repoDir == "" {
		repoDir, _ = filepath.Abs("../..")
	}
	if nsgBin == "" {
		nsgBin = filepath.Join(repoDir, "build/controller/cmd/nomad-singleton")
	}
	if _, err := os.Stat(nsgBin); err != nil {
		fmt.Fprintf(os.Stderr, "contract: no nomad-singleton binary at %s (set NSG_BIN): %v\n", nsgBin, err)
		os.Exit(1)
	}
	tmp, err := os.MkdirTemp("", "nsg-contract-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "contract:", err)
		os.Exit(1)
	}
	code := run(m, tmp)
	os.RemoveAll(tmp)
	os.Exit(code)
}

func run(m *testing.M, tmp string) int {
	defer func() {
		for _, s := range sims {
			s.stop()
		}
	}()
	for i, p := range profiles {
		for _, acl := range []bool{false, true} {
			name := p + "-noacl"
			if acl {
				name = p + "-acl"
			}
			s, err := startSim(name, p, acl, int64(i+1), filepath.Join(tmp, name))
			if err != nil {
				fmt.Fprintf(os.Stderr, "contract: starting sim %s: %v\n", name, err)
				return 1
			}
			sims = append(sims, s)
		}
	}
	code := m.Run()
	if code == 0 {
		if err := checkRouteCoverage(); err != nil {
			fmt.Fprintln(os.Stderr, "contract:", err)
			code = 1
		}
	}
	// A simulator that did not exit cleanly (a crash, or a sanitizer report at exit in the ASan
	// tree) fails the suite too.
	for _, s := range sims {
		if err := s.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "contract: sim %s: %v\n", s.name, err)
			code = 1
		}
	}
	if code != 0 {
		for _, s := range sims {
			s.dumpStderr()
		}
	}
	return code
}

func startSim(name, profile string, acl bool, seed int64, dir string) (*sim, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s := &sim{name: name, profile: profile, acl: acl, allocDir: filepath.Join(dir, "allocs")}
	args := []string{"sim", "--listen", "127.0.0.1:0", "--nodes", "3", "--seed", fmt.Sprint(seed),
		"--nomad-version", profile, "--time-scale", fmt.Sprint(timeScale), "--alloc-dir", s.allocDir}
	if acl {
		args = append(args, "--acl")
	}
	errFile, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		return nil, err
	}
	s.stderr = errFile
	s.cmd = exec.Command(nsgBin, args...)
	s.cmd.Stderr = errFile
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, out)
		close(lines)
	}()
	deadline := time.After(30 * time.Second)
	read := func() (string, error) {
		select {
		case l, ok := <-lines:
			if !ok {
				return "", fmt.Errorf("sim exited before printing its address (see %s)", errFile.Name())
			}
			return l, nil
		case <-deadline:
			return "", fmt.Errorf("no address from the sim within 30s")
		}
	}
	if s.addr, err = read(); err != nil {
		s.stop()
		return nil, err
	}
	if acl {
		l, err := read()
		if err != nil {
			s.stop()
			return nil, err
		}
		_, tok, ok := strings.Cut(l, ": ")
		if !ok {
			s.stop()
			return nil, fmt.Errorf("second line is not the management token: %q", l)
		}
		s.token = strings.TrimSpace(tok)
	}
	return s, nil
}

// stop interrupts the simulator and waits (10 s) for it; an unclean exit is an error.
func (s *sim) stop() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	cmd := s.cmd
	s.cmd = nil
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("did not stop within 10s of SIGINT")
	}
}

func (s *sim) dumpStderr() {
	b, err := os.ReadFile(s.stderr.Name())
	if err != nil || len(b) == 0 {
		return
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	fmt.Fprintf(os.Stderr, "--- sim %s stderr (tail) ---\n%s\n", s.name, b)
}

// client is an api client for the simulator with the management token (when ACLs are on).
func (s *sim) client(t testing.TB) *api.Client {
	return s.clientWith(t, s.token)
}

// clientWith is an api client with `token` ("" = anonymous).
func (s *sim) clientWith(t testing.TB, token string) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: s.addr, SecretID: token})
	if err != nil {
		t.Fatalf("api.NewClient: %v", err)
	}
	return c
}

// simTime converts virtual time to the wall time the simulator takes for it. Durations sent to
// the simulator (a blocking query's WaitTime, lock TTLs) are virtual: its clock is Nomad's clock.
func simTime(d time.Duration) time.Duration { return time.Duration(float64(d) / timeScale) }

// forEachSim runs fn once per simulator, in parallel subtests.
func forEachSim(t *testing.T, fn func(t *testing.T, s *sim)) {
	t.Helper()
	t.Parallel()
	for _, s := range sims {
		s := s
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			fn(t, s)
		})
	}
}

// check runs one named check as a subtest (the unit the suite counts per area).
func check(t *testing.T, name string, fn func(t *testing.T)) {
	t.Helper()
	t.Run(name, fn)
}

// waitFor polls cond (every 20 ms) until it holds or the wall-clock timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s (last error: %v)", timeout, what, lastErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// uniq is a name unique within the run (tests share a simulator).
func uniq(t *testing.T, base string) string {
	n := strings.NewReplacer("/", "-", "_", "-", ".", "-").Replace(t.Name())
	if len(n) > 60 {
		n = n[len(n)-60:]
	}
	return strings.ToLower(strings.Trim(base+"-"+n, "-"))
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
