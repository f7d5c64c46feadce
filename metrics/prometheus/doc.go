// Package prombilling exports apibilling's metrics to Prometheus: requests
// by outcome and route, credits charged and refunded by route, store call
// latency and errors by operation, the bbolt store's group commits, store
// calls whose outcome is unknown, and threshold alerts. It is a module of
// its own, so that the core stays on the standard library and only those
// who want Prometheus pull client_golang.
//
//	metrics := prombilling.New(nil)
//	prometheus.MustRegister(metrics) // or your own registry
//	b := core.New(store, core.WithObserver(metrics))
//	... the adapter's observer option: metrics.Request ...
//	http.Handle("/metrics", promhttp.Handler())
//
// # Metrics
//
//	apibilling_requests_total{outcome,route}       counter   outcome: allowed, denied, unidentified, no_quota,
//	                                                         bad_cost, store_error, fail_open, replayed, conflict
//	apibilling_credits_charged_total{route}        counter   credits (exact to the micro-credit up to 2^53)
//	apibilling_credits_refunded_total{route}       counter
//	apibilling_store_duration_seconds{op}          histogram op: deduct, refund, usage, report, delete
//	apibilling_store_errors_total{op}              counter
//	apibilling_store_outcome_unknown_total         counter   calls that may have been applied (lost replies)
//	apibilling_commit_batch_size                   histogram deductions per bbolt group commit
//	apibilling_commit_duration_seconds             histogram bbolt group commits, fsync included
//	apibilling_alerts_total{period,type}           counter   type: threshold, reset
//	apibilling_client_credits_charged_total{client} counter  only with Options.ClientLabel
//
// The route label is the route pattern (such as /api/users/:id), never the
// raw path, so its values are bounded by the application's routes; requests
// that no route serves are not billed and not counted. No metric carries a
// client ID unless the application opts in with an allow-list
// ([Options].ClientLabel).
//
// Useful queries:
//
//	# share of requests refused for quota, by route, over 5 minutes
//	sum by (route) (rate(apibilling_requests_total{outcome="denied"}[5m]))
//	  / sum by (route) (rate(apibilling_requests_total[5m]))
//	# credits charged per hour
//	sum(increase(apibilling_credits_charged_total[1h]))
//	# store p99 latency of deductions
//	histogram_quantile(0.99, sum by (le) (rate(apibilling_store_duration_seconds_bucket{op="deduct"}[5m])))
package prombilling
