package blackbox

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// apps are the example applications, by directory under examples/.
var apps = []string{"gin", "echo", "fiber", "nethttp"}

// buildTimeout bounds building the applications.
const buildTimeout = 5 * time.Minute

// binDir holds the applications built by buildApps; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var build struct {
	once sync.Once
	bins []string
	err  error
}

// buildApps builds the example applications, once for all the tests, and
// returns their paths, in the order of apps.
func buildApps(t *testing.T) []string {
	t.Helper()
	build.once.Do(func() { build.bins, build.err = buildAll() })
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bins
}

func buildAll() ([]string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("the go command is needed to build the examples: %w", err)
	}
	if binDir, err = os.MkdirTemp("", "apibilling-examples-"); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	args := []string{"build", "-o", binDir + string(filepath.Separator)}
	for _, a := range apps {
		args = append(args, "github.com/frappy-go/apibilling/examples/"+a)
	}
	if out, err := exec.CommandContext(ctx, goBin, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	bins := make([]string, len(apps))
	for i, a := range apps {
		bins[i] = filepath.Join(binDir, a)
		if _, err := os.Stat(bins[i]); err != nil {
			return nil, fmt.Errorf("built no %s: %w", a, err)
		}
	}
	return bins, nil
}

// syncBuffer is a bytes.Buffer that a process writes while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// process is a running example application.
type process struct {
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	line   chan string   // the first line of stdout
	done   chan struct{} // closed when the process has exited
	err    error         // its exit status, once done is closed
}

// startTimeout bounds how long an application takes to print its start-up
// line or to exit.
const startTimeout = 15 * time.Second

// start runs bin with args. The process is killed when the test ends if it
// is still running.
func start(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), line: make(chan string, 1), done: make(chan struct{})}
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r := bufio.NewReader(out)
		first, err := r.ReadString('\n')
		p.stdout.Write([]byte(first))
		if err == nil {
			p.line <- strings.TrimSuffix(first, "\n")
		}
		io.Copy(&p.stdout, r)
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// addr waits for the start-up line and returns the address it names.
func (p *process) addr(t *testing.T) string {
	t.Helper()
	select {
	case line := <-p.line:
		_, rest, ok := strings.Cut(line, " listening on http://")
		addr, _, _ := strings.Cut(rest, " ")
		if !ok || !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Fatalf("start-up line %q names no loopback address", line)
		}
		return addr
	case <-p.done:
		t.Fatalf("%s exited before listening: %v; stderr: %s", p.cmd.Path, p.err, p.stderr.String())
	case <-time.After(startTimeout):
		t.Fatalf("%s did not listen within %v; stderr: %s", p.cmd.Path, startTimeout, p.stderr.String())
	}
	return ""
}

// wait waits for the process to exit and returns its exit code, or fails
// the test if it takes longer than startTimeout.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(startTimeout):
		t.Fatalf("%s did not exit within %v", p.cmd.Path, startTimeout)
		return -1
	}
}

// stop sends SIGTERM and returns the exit code.
func (p *process) stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	return p.wait(t)
}
