package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium, which .ci/services installs.
const chromiumPath = "/usr/bin/chromium"

// newBrowser starts headless Chromium with the flags this machine needs
// (no sandbox as root, no network besides loopback) and returns a tab.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("APIBILLING_REQUIRE_SERVICES") == "1" {
			t.Fatalf("no Chromium at %s (run .ci/services)", chromiumPath)
		}
		t.Skipf("SKIP: no Chromium at %s; .ci/services installs it", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancelA := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelT)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start Chromium: %v", err)
	}
	// The page's uncaught exceptions and console errors fail the test.
	chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			t.Errorf("the page threw: %s", msg)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				t.Logf("console error: %s", strings.Join(parts, " "))
			}
		}
	})
	return ctx
}

// outputDir is where the test leaves its screenshots: APIBILLING_E2E_OUT,
// or a temporary directory.
func outputDir(t *testing.T) string {
	if d := os.Getenv("APIBILLING_E2E_OUT"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// apiGet reads an endpoint of the usage API with a bearer token.
func apiGet(t *testing.T, url, token, accept string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// meterValue returns the aria-valuenow of the progress bar whose
// accessible name (aria-label, or the text aria-labelledby points to) is
// name, once the page shows it.
func meterValue(ctx context.Context, name string) (string, error) {
	js := fmt.Sprintf(`(() => {
		for (const el of document.querySelectorAll('[role="progressbar"]')) {
			let n = el.getAttribute('aria-label');
			if (!n && el.getAttribute('aria-labelledby')) {
				n = el.getAttribute('aria-labelledby').split(' ')
					.map((id) => (document.getElementById(id) || {}).textContent || '').join(' ');
			}
			if (n && n.trim() === %q) return el.getAttribute('aria-valuenow');
		}
		return null;
	})()`, name)
	return chromedp.Run(ctx, chromedp.Poll[string](js, chromedp.WithPollingTimeout(20*time.Second)))
}

// usedOf returns the used credits of a period in a status answer.
func usedOf(t *testing.T, body, period string) string {
	t.Helper()
	var st struct {
		Quotas []struct {
			Period string          `json:"period"`
			Used   json.RawMessage `json:"used"`
		} `json:"quotas"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("status %s: %v", body, err)
	}
	for _, q := range st.Quotas {
		if q.Period == period {
			return string(q.Used)
		}
	}
	t.Fatalf("no %s quota in %s", period, body)
	return ""
}

// dashboardCase drives the dashboard of an app at base (the /billing/
// mount point) whose client "client1" holds a key and has been charged:
// the client view shows the API's numbers, the operator view refuses a
// wrong token and then lists client1 with the API's numbers, and the CSV
// it downloads equals the API's CSV byte for byte.
func dashboardCase(t *testing.T, base, clientToken, adminToken string) {
	ctx := newBrowser(t)
	out := outputDir(t)

	// Client view, with a portal token in the fragment.
	_, me := apiGet(t, base+"api/me", clientToken, "")
	wantDay := usedOf(t, me, "day")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"#token="+clientToken)); err != nil {
		t.Fatal(err)
	}
	got, err := meterValue(ctx, "Per day")
	if err != nil {
		html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerHTML`))
		screenshot(t, ctx, filepath.Join(out, "dashboard-client-failed.png"))
		t.Fatalf("client view: %v\n%s", err, html)
	}
	if got != wantDay {
		t.Errorf("client view shows %s used per day, the API %s", got, wantDay)
	}
	screenshot(t, ctx, filepath.Join(out, "dashboard-client.png"))

	// Operator view: a wrong token is refused with the API's message.
	password := chromedp.CSS(`input[type=password]`)
	submit := chromedp.CSS(`form.db-token button[type=submit]`)
	alertSel := chromedp.CSS(`[role=alert]`)
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"#view=operator"),
		chromedp.WaitVisible(password),
		chromedp.SendKeys(password, "wrong-token"),
		chromedp.Click(submit),
		chromedp.WaitVisible(alertSel))
	if err != nil {
		t.Fatalf("operator view with a wrong token: %v", err)
	}
	alert, err := chromedp.Run(ctx, chromedp.Text(alertSel))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(alert, "invalid credentials") {
		t.Errorf("wrong token shows %q, want the 401 problem's detail", alert)
	}

	// The right token lists client1 with the API's numbers.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`sessionStorage.clear(), true`)); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.Reload(),
		chromedp.WaitVisible(password),
		chromedp.SendKeys(password, adminToken),
		chromedp.Click(submit),
		chromedp.WaitVisible(chromedp.CSS(`table.db-clients`)))
	if err != nil {
		t.Fatalf("operator view: %v", err)
	}
	_, one := apiGet(t, base+"api/clients/client1", adminToken, "")
	got, err = meterValue(ctx, "client1, per day")
	if err != nil {
		t.Fatal(err)
	}
	if want := usedOf(t, one, "day"); got != want {
		t.Errorf("operator view shows %s used per day by client1, the API %s", got, want)
	}
	// The chart's bars add up to the API's total for the client.
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`.ab-bars rect[data-value]`))); err != nil {
		t.Fatal(err)
	}
	total, err := chromedp.Run(ctx, chromedp.Evaluate[float64](
		`[...document.querySelectorAll('.ab-bars rect[data-value]')].reduce((s, r) => s + Number(r.dataset.value), 0)`))
	if err != nil {
		t.Fatal(err)
	}
	from, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelectorAll('input[type=date]')[0].value`))
	if err != nil {
		t.Fatal(err)
	}
	to, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelectorAll('input[type=date]')[1].value`))
	if err != nil {
		t.Fatal(err)
	}
	_, usage := apiGet(t, base+"api/clients/client1/usage?tz=UTC&from="+from+"&to="+to, adminToken, "")
	var u struct {
		Total float64 `json:"total"`
	}
	if err := json.Unmarshal([]byte(usage), &u); err != nil {
		t.Fatal(err)
	}
	if total != u.Total || total == 0 {
		t.Errorf("chart bars add up to %v, the API's total is %v", total, u.Total)
	}
	screenshot(t, ctx, filepath.Join(out, "dashboard-operator.png"))

	// The CSV download equals the API's CSV: keep the Blob the page saves.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const make = URL.createObjectURL;
		URL.createObjectURL = (b) => { window.__saved = b; return make.call(URL, b); };
		return true;
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.Search(`//button[text()="Download CSV of all clients"]`))); err != nil {
		t.Fatal(err)
	}
	page, err := chromedp.Run(ctx, chromedp.Poll[string](`window.__saved && window.__saved.text()`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("the page saved no CSV: %v", err)
	}
	_, apiCSV := apiGet(t, base+"api/usage?format=csv&tz=UTC&from="+from+"&to="+to, adminToken, "text/csv")
	if page != apiCSV || !strings.Contains(apiCSV, "client1,") {
		t.Errorf("downloaded CSV:\n%s\nthe API's:\n%s", page, apiCSV)
	}
	t.Logf("screenshots in %s", out)
}

func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
}
