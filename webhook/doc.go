// Package webhook delivers apibilling's threshold alerts ([core.Alert]) to
// an HTTP endpoint as signed JSON POSTs, without ever blocking a request.
//
//	s := webhook.New("https://ops.example.com/hooks/billing", []byte(secret), nil)
//	defer s.Close(context.Background())
//	b := core.New(store, core.WithAlerts(s.Notify,
//		core.Threshold{Period: core.Day, Percent: 80},
//		core.Threshold{Period: core.Day, Percent: 100}))
//
// [Sender.Notify] only queues the alert; a goroutine sends it. A failed
// delivery (a network error or a status other than 2xx) is retried with
// exponential backoff, a bounded number of times; when the queue is full an
// alert is dropped and counted ([Sender.Stats]).
//
// # The request
//
//	POST <url>
//	Content-Type: application/json
//	Apibilling-Event: 5ed2...          the event's ID, the same on every retry
//	Apibilling-Signature: t=1796083200,v1=<hex HMAC-SHA256>
//
//	{"id":"5ed2...","type":"threshold","client":"client1","period":"day","percent":80,
//	 "used":400,"limit":500,"window_start":"...","window_end":"...","at":"..."}
//
// type is "threshold" or "reset" (a new window started after alerts; percent
// is 0). Credits are exact decimal numbers, times RFC 3339.
//
// # Verifying a request
//
// The signature is the HMAC-SHA256, keyed with the shared secret, of the
// timestamp t, a period, and the raw body: HMAC(secret, t + "." + body),
// hex-encoded. A receiver recomputes it, compares in constant time
// ([Verify] does it), and rejects timestamps older than a few minutes to
// stop replays. Each alert is raised once per client, window and threshold,
// but a delivery can be retried (say, after a timeout whose request did
// arrive): deduplicate on the event ID.
package webhook
