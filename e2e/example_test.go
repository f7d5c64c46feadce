package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDashboardExampleApp builds the Gin example app, runs it on loopback
// with an admin token, makes billed requests with a demo key, and drives
// its dashboard under /billing/.
func TestDashboardExampleApp(t *testing.T) {
	const admin = "e2e-admin-token"
	dir := t.TempDir()
	bin := filepath.Join(dir, "app")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/frappy-go/apibilling/examples/gin").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-db", filepath.Join(dir, "e2e.db"), "-admin-token", admin)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no start-up line: %v", err)
	}
	_, rest, _ := strings.Cut(line, "listening on ")
	base, _, _ := strings.Cut(rest, " ")

	for _, path := range []string{"/api/fetch-data", "/api/fetch-data", "/api/fetch-expensive-data", "/api/compute?units=0.5"} {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("X-API-Key", "demo-key-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("POST", base+"/billing/api/clients/client1/portal-tokens", strings.NewReader(`{"ttl":"1h"}`))
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.Token == "" {
		t.Fatalf("no portal token: %d", resp.StatusCode)
	}
	dashboardCase(t, base+"/billing/", tok.Token, admin)
}
