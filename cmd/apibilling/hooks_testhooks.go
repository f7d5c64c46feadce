//go:build testhooks

package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The tests' build can stop a migration in a phase, to test interruptions
// and a source that changes:
//
//	APIBILLING_TEST_FAIL=copy:N   the copy fails after N records (a failure)
//	APIBILLING_TEST_PAUSE=PHASE:N the phase ("read": once the source is read;
//	                              "copy": after N records) waits, having
//	                              written "paused" to stderr, until a line
//	                              arrives on stdin or the process is
//	                              interrupted (SIGINT)
var (
	failPhase, failAt   = hookEnv("APIBILLING_TEST_FAIL")
	pausePhase, pauseAt = hookEnv("APIBILLING_TEST_PAUSE")
)

func hookEnv(name string) (string, int64) {
	phase, n, ok := strings.Cut(os.Getenv(name), ":")
	if !ok {
		return "", -1
	}
	v, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return "", -1
	}
	return phase, v
}

func testHook(ctx context.Context, e *env, phase string, n int64) error {
	if phase == failPhase && n > failAt {
		return fmt.Errorf("test hook: failing after %d records", failAt)
	}
	if phase == pausePhase && (n == pauseAt || phase == "read") {
		fmt.Fprintln(e.stderr, "paused")
		line := make(chan struct{})
		go func() {
			bufio.NewReader(e.stdin).ReadString('\n')
			close(line)
		}()
		select {
		case <-line:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
