package prombilling

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/frappy-go/apibilling/core"
)

// Request outcomes, the values of the outcome label of
// apibilling_requests_total.
const (
	OutcomeAllowed      = "allowed"      // charged and passed to the handler
	OutcomeDenied       = "denied"       // 429: a quota refused
	OutcomeUnidentified = "unidentified" // 401: no valid client identity
	OutcomeNoQuota      = "no_quota"     // 403: the client has no quotas
	OutcomeBadCost      = "bad_cost"     // the cost could not be determined (400 or 500)
	OutcomeStoreError   = "store_error"  // 503: the store failed (fail closed)
	OutcomeFailOpen     = "fail_open"    // the store failed and the request passed unbilled
	OutcomeReplayed     = "replayed"     // an idempotency key's replay: passed, not charged
	OutcomeConflict     = "conflict"     // 422: an idempotency key reused for another charge
)

var outcomes = [...]string{OutcomeAllowed, OutcomeDenied, OutcomeUnidentified, OutcomeNoQuota,
	OutcomeBadCost, OutcomeStoreError, OutcomeFailOpen, OutcomeReplayed, OutcomeConflict}

// Options configures a [Collector]. The zero value means the defaults.
type Options struct {
	// Namespace prefixes every metric name. Default: "apibilling".
	Namespace string
	// ConstLabels are added to every metric, such as {"instance": ...}.
	ConstLabels prometheus.Labels
	// StoreBuckets are the buckets of apibilling_store_duration_seconds,
	// in seconds. Default: 50 µs to 2.5 s.
	StoreBuckets []float64
	// ClientLabel opts in to per-client metrics: it maps a client ID to
	// its label value, and returns false for clients that get none. Keep
	// the set it accepts small and fixed (an allow-list): every value is a
	// time series. Default: nil, and no metric carries a client ID.
	ClientLabel func(client string) (label string, ok bool)
}

// Collector counts what apibilling does, for Prometheus. It implements
// [prometheus.Collector] (register it with your registry) and
// [core.Observer] (pass it to [core.WithObserver]); the adapters report
// request outcomes through [Collector.Request], the bbolt store its group
// commits through [Collector.Commit], alerts reach [Collector.Alert]. It is
// safe for concurrent use; its methods do not allocate once a route has
// been seen.
type Collector struct {
	opts Options

	requests      *prometheus.CounterVec   // outcome, route
	charged       *prometheus.CounterVec   // route
	refunded      *prometheus.CounterVec   // route
	clientCharged *prometheus.CounterVec   // client
	storeDuration *prometheus.HistogramVec // op
	storeErrors   *prometheus.CounterVec   // op
	commitBatch   prometheus.Histogram
	commitTime    prometheus.Histogram
	alerts        *prometheus.CounterVec // period, type
	unknown       prometheus.CounterFunc
	unknownFuncs  atomic.Pointer[[]func() uint64]

	ops    [len(storeOps)]storeMetrics
	routes sync.Map // route -> *routeMetrics
}

var storeOps = [...]core.StoreOp{core.OpDeduct, core.OpRefund, core.OpUsage, core.OpReport, core.OpDelete}

type storeMetrics struct {
	duration prometheus.Observer
	errors   prometheus.Counter
}

// routeMetrics caches one route's series, so that a request does not hash
// its labels again.
type routeMetrics struct {
	requests [len(outcomes)]prometheus.Counter
	charged  prometheus.Counter
	refunded prometheus.Counter
}

// New returns a collector. Register it: prometheus.MustRegister(c), or
// your registry's.
func New(opts *Options) *Collector {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Namespace == "" {
		o.Namespace = "apibilling"
	}
	if o.StoreBuckets == nil {
		o.StoreBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	}
	c := &Collector{opts: o}
	ns, cl := o.Namespace, o.ConstLabels
	c.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "requests_total", ConstLabels: cl,
		Help: "Requests billed by the middleware, by outcome (allowed, denied, unidentified, no_quota, bad_cost, store_error, fail_open, replayed, conflict) and route pattern."},
		[]string{"outcome", "route"})
	c.charged = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "credits_charged_total", ConstLabels: cl,
		Help: "Credits charged, by route pattern (label); replays charge nothing."}, []string{"route"})
	c.refunded = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "credits_refunded_total", ConstLabels: cl,
		Help: "Credits refunded, by route pattern (label)."}, []string{"route"})
	c.clientCharged = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "client_credits_charged_total", ConstLabels: cl,
		Help: "Credits charged to the clients the application allow-listed, by client."}, []string{"client"})
	c.storeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "store_duration_seconds", ConstLabels: cl,
		Help: "Duration of store calls, by operation (deduct, refund, usage, report, delete).", Buckets: o.StoreBuckets}, []string{"op"})
	c.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "store_errors_total", ConstLabels: cl,
		Help: "Store calls that failed, by operation."}, []string{"op"})
	c.commitBatch = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "commit_batch_size", ConstLabels: cl,
		Help: "Deductions committed together by the bbolt store's group commit.", Buckets: prometheus.ExponentialBuckets(1, 2, 12)})
	c.commitTime = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "commit_duration_seconds", ConstLabels: cl,
		Help: "Duration of the bbolt store's group commits, fsync included.", Buckets: prometheus.ExponentialBuckets(.0001, 2, 16)})
	c.alerts = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "alerts_total", ConstLabels: cl,
		Help: "Threshold alerts raised, by period and type (threshold or reset)."}, []string{"period", "type"})
	c.unknown = prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "store_outcome_unknown_total", ConstLabels: cl,
		Help: "Store calls whose reply was lost after they were sent, so that they may have been applied."}, c.sumUnknown)
	for i, op := range storeOps {
		c.ops[i] = storeMetrics{
			duration: c.storeDuration.WithLabelValues(op.String()),
			errors:   c.storeErrors.WithLabelValues(op.String()),
		}
	}
	return c
}

// Describe implements [prometheus.Collector].
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.collectors() {
		m.Describe(ch)
	}
}

// Collect implements [prometheus.Collector].
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.collectors() {
		m.Collect(ch)
	}
}

func (c *Collector) collectors() []prometheus.Collector {
	out := []prometheus.Collector{c.requests, c.charged, c.refunded, c.storeDuration, c.storeErrors,
		c.commitBatch, c.commitTime, c.alerts, c.unknown}
	if c.opts.ClientLabel != nil {
		out = append(out, c.clientCharged)
	}
	return out
}

func (c *Collector) route(label string) *routeMetrics {
	if m, ok := c.routes.Load(label); ok {
		return m.(*routeMetrics)
	}
	m := &routeMetrics{charged: c.charged.WithLabelValues(label), refunded: c.refunded.WithLabelValues(label)}
	for i, o := range outcomes {
		m.requests[i] = c.requests.WithLabelValues(o, label)
	}
	actual, _ := c.routes.LoadOrStore(label, m)
	return actual.(*routeMetrics)
}

// Request counts one request the middleware billed (or tried to), by its
// outcome (one of the Outcome constants) and route pattern. Adapters call
// it through their observer option.
func (c *Collector) Request(outcome, route string) {
	for i, o := range outcomes {
		if o == outcome {
			c.route(route).requests[i].Inc()
			return
		}
	}
}

// StoreCall implements [core.Observer].
func (c *Collector) StoreCall(op core.StoreOp, took time.Duration, err error) {
	if int(op) >= len(c.ops) {
		return
	}
	m := &c.ops[op]
	m.duration.Observe(took.Seconds())
	if err != nil {
		m.errors.Inc()
	}
}

// Charged implements [core.Observer]: credits of admitted charges count,
// replays and refusals do not. The client's credits are counted too when
// [Options].ClientLabel accepts it.
func (c *Collector) Charged(client, label string, cost core.Credits, ok, replayed bool) {
	if !ok || replayed || cost.IsZero() {
		return
	}
	c.route(label).charged.Add(cost.Float64())
	if c.opts.ClientLabel != nil {
		if l, ok := c.opts.ClientLabel(client); ok {
			c.clientCharged.WithLabelValues(l).Add(cost.Float64())
		}
	}
}

// Refunded implements [core.Observer].
func (c *Collector) Refunded(_, label string, cost core.Credits) {
	c.route(label).refunded.Add(cost.Float64())
}

// Commit records one group commit of the bbolt store: how many deductions it
// held and how long it took. Pass it as the store's commit hook.
func (c *Collector) Commit(batch int, took time.Duration) {
	c.commitBatch.Observe(float64(batch))
	c.commitTime.Observe(took.Seconds())
}

// Alert counts a threshold alert; call it from the function given to
// [core.WithAlerts] (it does not block).
func (c *Collector) Alert(a core.Alert) {
	typ := "threshold"
	if a.Reset {
		typ = "reset"
	}
	c.alerts.WithLabelValues(a.Period.String(), typ).Inc()
}

// CountOutcomeUnknown adds f, a store's count of calls whose reply was
// lost (such as the Redis store's), to apibilling_store_outcome_unknown_total.
func (c *Collector) CountOutcomeUnknown(f func() uint64) {
	for {
		old := c.unknownFuncs.Load()
		var next []func() uint64
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, f)
		if c.unknownFuncs.CompareAndSwap(old, &next) {
			return
		}
	}
}

func (c *Collector) sumUnknown() float64 {
	var n uint64
	if fs := c.unknownFuncs.Load(); fs != nil {
		for _, f := range *fs {
			n += f()
		}
	}
	return float64(n)
}

var _ core.Observer = (*Collector)(nil)
