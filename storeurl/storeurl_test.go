package storeurl_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/storeurl"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		url  string
		kind storeurl.Kind
		rest string
	}{
		{"apibilling.db", "bolt", "apibilling.db"},
		{"/var/lib/x.db", "bolt", "/var/lib/x.db"},
		{"./data/x.db", "bolt", "./data/x.db"},
		{"bolt:x.db", "bolt", "x.db"},
		{"bolt:///abs/x.db", "bolt", "/abs/x.db"},
		{"redis://127.0.0.1:6379/0", "redis", "redis://127.0.0.1:6379/0"},
		{"postgres://postgres@127.0.0.1:5432/test", "postgres", "postgres://postgres@127.0.0.1:5432/test"},
		{"mysql://root@tcp(127.0.0.1:3306)/test", "mysql", "root@tcp(127.0.0.1:3306)/test"},
		{"mongodb://127.0.0.1:27017", "mongo", "mongodb://127.0.0.1:27017"},
		{"memory:", "memory", ""},
	} {
		kind, rest, err := storeurl.Parse(tc.url)
		if err != nil || kind != tc.kind || rest != tc.rest {
			t.Errorf("Parse(%q) = %q, %q, %v; want %q, %q", tc.url, kind, rest, err, tc.kind, tc.rest)
		}
	}
	for _, bad := range []string{"", "ftp://x", "sqlite:x"} {
		if _, _, err := storeurl.Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

// TestOpen opens every kind of store this machine runs and charges it.
func TestOpen(t *testing.T) {
	urls := map[string]string{
		"memory":   "memory:",
		"bolt":     filepath.Join(t.TempDir(), "x.db"),
		"redis":    "redis://" + env("APIBILLING_REDIS_ADDR", "127.0.0.1:6379") + "/0",
		"postgres": env("APIBILLING_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"),
		"mysql":    "mysql://" + env("APIBILLING_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/test"),
		"mongo":    env("APIBILLING_MONGO_URI", "mongodb://127.0.0.1:27017") + "/storeurl_test",
	}
	for name, url := range urls {
		t.Run(name, func(t *testing.T) {
			s, err := storeurl.Open(t.Context(), url, nil)
			if err != nil {
				if name != "memory" && name != "bolt" && os.Getenv("APIBILLING_REQUIRE_SERVICES") != "1" {
					t.Skipf("SKIP: %s not reachable: %v", name, err)
				}
				t.Fatal(err)
			}
			defer s.Close()
			b := core.New(s)
			if err := b.SetQuotas("storeurl-test", core.Quota{Period: core.Second, Limit: core.Whole(1000)}); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Track(context.Background(), "storeurl-test", core.Whole(1)); err != nil {
				t.Fatal(err)
			}
			// Leave the shared servers as found: delete what was charged.
			from, to := time.Unix(0, 0), time.Now().Add(time.Hour)
			if n, err := b.DeleteUsage(context.Background(), "storeurl-test", from, to); err != nil || n.IsZero() {
				t.Errorf("DeleteUsage = %v, %v; want what was charged", n, err)
			}
		})
	}
	if _, err := storeurl.Open(t.Context(), "redis://user:hunter2@127.0.0.1:1/0", &storeurl.Options{PingTimeout: 1}); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open of a dead Redis: %v (must fail without the password)", err)
	}
	if _, err := storeurl.Open(t.Context(), "ftp://x", nil); !errors.Is(err, storeurl.ErrUnknownScheme) {
		t.Errorf("unknown scheme: %v", err)
	}
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
