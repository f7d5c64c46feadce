package blackbox

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExamplesClientsFile runs each application with a clients file of its
// own: a client without quotas is answered 403, and a malformed file is
// refused at start-up with a message that names the client and the field.
func TestExamplesClientsFile(t *testing.T) {
	bins := buildApps(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(good, []byte(`{"clients":[{"id":"idle","keys":["idle-key"]},{"id":"busy","keys":["busy-key"],"quotas":[{"period":"hour","limit":2.5}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(`{"clients":[{"id":"ok","keys":["a"]},{"id":"client2","keys":["b"],"quotas":[{"period":"dya","limit":10}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, name := range apps {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := start(t, bins[i], "-addr", "127.0.0.1:0", "-db", filepath.Join(dir, name+".db"), "-clients", good)
			c := &client{t: t, base: "http://" + p.addr(t), http: &http.Client{Timeout: 10 * time.Second}}
			defer c.http.CloseIdleConnections()
			if line := p.stdout.String(); !strings.Contains(line, good) {
				t.Errorf("start-up line %q does not name the clients file", line)
			}
			r := c.get("/api/fetch-data", auth{"X-API-Key", "idle-key"})
			c.expect("client without quotas", r, 403, "application/problem+json",
				`{"type":"about:blank","title":"Forbidden","status":403,"detail":"You do not have any available quota"}`)
			for k, want := range []int{200, 200, 429} {
				r = c.get("/api/compute?units=1.25", auth{"X-API-Key", "busy-key"})
				c.expect("compute 1.25 of 2.5", r, want, map[int]string{200: "application/json", 429: "application/problem+json"}[want], "")
				if k == 1 && r.header.Get("X-RateLimit-Remaining") != "0" {
					t.Errorf("X-RateLimit-Remaining %q after 2.5 of 2.5 credits, want 0", r.header.Get("X-RateLimit-Remaining"))
				}
			}
			if code := p.stop(t); code != 0 {
				t.Errorf("exit code %d after SIGTERM; stderr: %s", code, p.stderr.String())
			}

			p = start(t, bins[i], "-addr", "127.0.0.1:0", "-db", filepath.Join(dir, name+"-bad.db"), "-clients", bad)
			if code := p.wait(t); code != 1 {
				t.Errorf("with a malformed clients file: exit code %d, want 1", code)
			}
			want := `examples/` + name + `: clientsfile: ` + bad + `: clients[1] "client2": quotas[0].period: unknown period "dya" (want second, minute, hour, day, week, month or year)` + "\n"
			if got := p.stderr.String(); got != want {
				t.Errorf("with a malformed clients file: stderr\n got %q\nwant %q", got, want)
			}
			if out := p.stdout.String(); out != "" {
				t.Errorf("with a malformed clients file: stdout %q", out)
			}
		})
	}
}
