package main

import (
	"strings"
	"testing"
)

// TestHelp checks the help of every command (whose flags it lists one a
// line, a tab and the flag first), and the exit status of command lines
// that cannot be run.
func TestHelp(t *testing.T) {
	r := mustRun(t, "help")
	for _, c := range commands {
		if !strings.Contains(r.stdout, "\t"+c.name+" ") {
			t.Errorf("the overview lacks %s:\n%s", c.name, r.stdout)
		}
		h := mustRun(t, "help", c.name)
		if !strings.HasPrefix(h.stdout, "usage: apibilling "+c.name+" ") {
			t.Errorf("help %s:\n%s", c.name, h.stdout)
		}
		for _, flagArg := range []string{"-h", "-help", "--help"} {
			if r := mustRun(t, c.name, flagArg); r.stdout != h.stdout {
				t.Errorf("%s %s differs from help %s:\n%s", c.name, flagArg, c.name, r.stdout)
			}
		}
		// Every flag that the help shows exists (and changes nothing
		// without the others).
		for _, line := range strings.Split(h.stdout, "\n") {
			f, ok := strings.CutPrefix(line, "\t-")
			if !ok {
				continue
			}
			f, _, _ = strings.Cut(f, " ")
			if r := apibilling(t, c.name, "-"+f); r.code != 2 || strings.Contains(r.stderr, "not defined") {
				t.Errorf("%s -%s: %s", c.name, f, r)
			}
		}
		wantFail(t, 2, []string{"flag provided but not defined: -nope", "apibilling help " + c.name}, c.name, "-nope")
	}
	wantFail(t, 2, []string{"unknown command \"nope\""}, "nope")
	wantFail(t, 2, []string{"unknown command \"nope\""}, "help", "nope")
	if r := apibilling(t); r.code != 2 || !strings.Contains(r.stderr, "The commands are:") {
		t.Errorf("no command: %s", r)
	}
}
