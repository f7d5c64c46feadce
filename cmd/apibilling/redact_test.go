package main

import (
	"strings"
	"testing"
)

// TestRedactURL checks that no form of store URL keeps its password.
func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"apibilling.db", "apibilling.db"},
		{"bolt:/var/lib/x.db", "bolt:/var/lib/x.db"},
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://:hunter22@127.0.0.1:6379/0", "redis://:xxxxx@127.0.0.1:6379/0"},
		{"redis://user:hunter22@127.0.0.1:6379/0", "redis://user:xxxxx@127.0.0.1:6379/0"},
		{"rediss://user:p%40ss%2Fw0rd@host:6380/1", "rediss://user:xxxxx@host:6380/1"},
		{"postgres://postgres:pgpass1@127.0.0.1:5432/test?sslmode=disable", "postgres://postgres:xxxxx@127.0.0.1:5432/test?sslmode=disable"},
		{"postgres://u@h/db?password=hunter22&sslmode=disable", "postgres://u@h/db?password=xxxxx&sslmode=disable"},
		{"mysql://root:hunter22@tcp(127.0.0.1:3306)/test", "mysql://root:xxxxx@tcp(127.0.0.1:3306)/test"},
		{"mysql://root:hu@nt/er22@tcp(127.0.0.1:3306)/test?parseTime=true", "mysql://root:xxxxx@tcp(127.0.0.1:3306)/test?parseTime=true"},
		{"mysql://root@tcp(127.0.0.1:3306)/test", "mysql://root@tcp(127.0.0.1:3306)/test"},
		{"mongodb://admin:hunter22@127.0.0.1:27017/db", "mongodb://admin:xxxxx@127.0.0.1:27017/db"},
	} {
		if got := redactURL(tc.url); got != tc.want {
			t.Errorf("redactURL(%q) = %q, want %q", tc.url, got, tc.want)
		}
		for _, p := range secretsOf(tc.url) {
			if strings.Contains(redactURL(tc.url), p) {
				t.Errorf("redactURL(%q) keeps %q", tc.url, p)
			}
		}
	}
	if got := secretsOf("mysql://root:hu@nt/er22@tcp(127.0.0.1:3306)/test"); len(got) == 0 || got[0] != "hu@nt/er22" {
		t.Errorf("secretsOf the MySQL DSN = %q", got)
	}
}

// TestPasswordsNeverPrinted runs commands on stores that cannot be
// reached, with passwords in their URLs, and looks for the passwords in
// everything printed.
func TestPasswordsNeverPrinted(t *testing.T) {
	const pw = "Sup3rSecretPw"
	for _, url := range []string{
		"redis://user:" + pw + "@127.0.0.1:1/0",
		"postgres://user:" + pw + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=1",
		"mysql://user:" + pw + "@tcp(127.0.0.1:1)/db?timeout=1s",
		"postgres://user@127.0.0.1:1/db?password=" + pw + "&sslmode=disable&connect_timeout=1",
	} {
		for _, args := range [][]string{
			{"usage", "-store", url, "-from", "2026-01-01", "-to", "2026-01-02"},
			{"export", "-store", url, "-o", t.TempDir() + "/x"},
			{"migrate", "-from", url, "-to", "memory:"},
			{"migrate", "-from", t.TempDir() + "/missing.db", "-to", url},
		} {
			r := apibilling(t, args...)
			if r.code == 0 || strings.Contains(r.stdout+r.stderr, pw) {
				t.Errorf("apibilling %s: %s", strings.Join(args, " "), r)
			}
		}
	}
}
