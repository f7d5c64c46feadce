import { useEffect, useId, useMemo, useRef, useState } from "react";
import { Fragment, jsx, jsxs } from "react/jsx-runtime";
// src/api.ts
/** ApiError is the rejection of a {@link BillingClient} call that got an error answer. */
var ApiError = class extends Error {
	/** The HTTP status code. */
	status;
	/** The problem+json body, or a problem made from the status when the body was not one. */
	problem;
	constructor(status, problem) {
		super(problem.detail || problem.title || `HTTP ${status}`);
		this.name = "ApiError";
		this.status = status;
		this.problem = problem;
	}
};
/** createClient returns a client of the usage API mounted at `baseUrl`. */
function createClient(options) {
	const base = options.baseUrl.endsWith("/") ? options.baseUrl : options.baseUrl + "/";
	const token = options.token?.trim();
	async function request(path, init = {}) {
		const { query, ...rest } = init;
		const headers = new Headers(rest.headers);
		if (!headers.has("Accept")) headers.set("Accept", "application/json");
		if (token) headers.set("Authorization", `Bearer ${token}`);
		const res = await (options.fetch ?? globalThis.fetch)(base + path + queryString(query), {
			...rest,
			headers
		});
		if (!res.ok) throw new ApiError(res.status, await readProblem(res));
		return res;
	}
	async function json(path, query, signal) {
		return await (await request(path, {
			query,
			signal
		})).json();
	}
	async function csv(path, range, signal) {
		return (await request(path, {
			query: {
				...rangeQuery(range),
				format: "csv"
			},
			headers: { Accept: "text/csv" },
			signal
		})).blob();
	}
	const clientPath = (id) => `api/clients/${encodeURIComponent(id)}`;
	return {
		me: (signal) => json("api/me", void 0, signal),
		meUsage: (range, signal) => json("api/me/usage", rangeQuery(range), signal),
		meUsageCsv: (range, signal) => csv("api/me/usage", range, signal),
		clients: (opts, signal) => json("api/clients", { near_limit: opts?.nearLimit }, signal),
		client: (id, signal) => json(clientPath(id), void 0, signal),
		clientUsage: (id, range, signal) => json(`${clientPath(id)}/usage`, rangeQuery(range), signal),
		usageCsv: (range, signal) => csv("api/usage", range, signal),
		request
	};
}
function rangeQuery(range) {
	return {
		from: range.from,
		to: range.to,
		tz: range.tz
	};
}
function queryString(query) {
	if (!query) return "";
	const params = new URLSearchParams();
	for (const [key, value] of Object.entries(query)) if (value !== void 0 && value !== "") params.set(key, String(value));
	const s = params.toString();
	return s ? "?" + s : "";
}
async function readProblem(res) {
	const fallback = {
		status: res.status,
		title: res.statusText || `HTTP ${res.status}`
	};
	const type = res.headers.get("Content-Type") ?? "";
	if (!/json/i.test(type)) return fallback;
	try {
		const body = await res.json();
		if (body && typeof body === "object") return {
			...fallback,
			...body
		};
	} catch {}
	return fallback;
}
// src/format.ts
/** formatCredits writes a number of credits with up to 6 decimals, as the API keeps them. */
function formatCredits(n, locale) {
	return new Intl.NumberFormat(locale, { maximumFractionDigits: 6 }).format(n);
}
/** formatTime writes an RFC 3339 time for people; the input unchanged if it is not a time. */
function formatTime(iso, opts = {}) {
	const d = new Date(iso);
	if (Number.isNaN(d.getTime())) return iso;
	return new Intl.DateTimeFormat(opts.locale, {
		dateStyle: "medium",
		timeStyle: "short",
		timeZone: opts.timeZone
	}).format(d);
}
/** formatDay writes a calendar date (YYYY-MM-DD) for people, for example "1 Nov 2026". */
function formatDay(date, locale, style = "long") {
	const d = /* @__PURE__ */ new Date(date + "T00:00:00Z");
	if (Number.isNaN(d.getTime())) return date;
	return new Intl.DateTimeFormat(locale, {
		day: "numeric",
		month: "short",
		year: style === "long" ? "numeric" : void 0,
		timeZone: "UTC"
	}).format(d);
}
/** formatDuration writes how long from one time to another, for example "in 14 hours". */
function formatDuration(fromIso, toIso, locale) {
	const ms = new Date(toIso).getTime() - new Date(fromIso).getTime();
	if (Number.isNaN(ms)) return "";
	const units = [
		["day", 864e5],
		["hour", 36e5],
		["minute", 6e4],
		["second", 1e3]
	];
	const rtf = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
	for (const [unit, size] of units) if (Math.abs(ms) >= size || unit === "second") return rtf.format(Math.round(ms / size), unit);
	return "";
}
var PERIODS = {
	second: "Per second",
	minute: "Per minute",
	hour: "Per hour",
	day: "Per day",
	week: "Per week",
	month: "Per month",
	year: "Per year"
};
/** periodLabel names a quota's period for people: "day" gives "Per day". */
function periodLabel(period) {
	return PERIODS[period] ?? period;
}
// src/QuotaMeter.tsx
/** quotaLevel tells how full a quota is: "ok" below 80 %, "warn" from 80 %, "full" at the limit. */
function quotaLevel(quota) {
	if (quota.limit === null) return "unlimited";
	if (quota.limit <= 0 || quota.used >= quota.limit) return "full";
	return quota.used / quota.limit >= .8 ? "warn" : "ok";
}
/**
* QuotaMeter shows one quota's used credits against its limit as an accessible progress bar, with
* the numbers as text beside it; an unlimited quota shows "unlimited" and no bar.
*/
function QuotaMeter({ quota, label, ariaLabel, locale }) {
	const labelId = useId();
	const name = label ?? periodLabel(quota.period);
	const used = formatCredits(quota.used, locale);
	const level = quotaLevel(quota);
	if (quota.limit === null) return /* @__PURE__ */ jsxs("div", {
		className: "ab-meter ab-meter-unlimited",
		children: [/* @__PURE__ */ jsx("span", {
			className: "ab-meter-label",
			children: name
		}), /* @__PURE__ */ jsxs("span", {
			className: "ab-meter-numbers",
			children: [
				used,
				" used · ",
				/* @__PURE__ */ jsx("strong", { children: "unlimited" })
			]
		})]
	});
	const limit = formatCredits(quota.limit, locale);
	const share = quota.limit > 0 ? Math.min(1, Math.max(0, quota.used / quota.limit)) : 1;
	const text = `${used} of ${limit} credits used (${Math.floor(share * 100)}%)${quota.used > quota.limit ? ", over the limit" : ""}`;
	return /* @__PURE__ */ jsxs("div", {
		className: `ab-meter ab-meter-${level}`,
		children: [
			/* @__PURE__ */ jsx("span", {
				className: "ab-meter-label",
				id: labelId,
				children: name
			}),
			/* @__PURE__ */ jsxs("span", {
				className: "ab-meter-numbers",
				"aria-hidden": "true",
				children: [
					used,
					" / ",
					limit
				]
			}),
			/* @__PURE__ */ jsx("div", {
				className: "ab-bar",
				role: "progressbar",
				"aria-labelledby": ariaLabel ? void 0 : labelId,
				"aria-label": ariaLabel,
				"aria-valuemin": 0,
				"aria-valuemax": quota.limit,
				"aria-valuenow": Math.min(Math.max(quota.used, 0), quota.limit),
				"aria-valuetext": text,
				children: /* @__PURE__ */ jsx("div", {
					className: "ab-bar-fill",
					style: { width: `${share * 100}%` }
				})
			})
		]
	});
}
// src/source.ts
/** DEFAULT_BASE_URL is where the example apps mount the usage API. */
var DEFAULT_BASE_URL = "/billing/";
/** useBillingClient returns props.api, or a client made from props.baseUrl and props.token. */
function useBillingClient({ api, baseUrl = DEFAULT_BASE_URL, token }) {
	return useMemo(() => api ?? createClient({
		baseUrl,
		token
	}), [
		api,
		baseUrl,
		token
	]);
}
// src/useAsync.ts
/**
* useAsync runs load whenever a value in deps changes, aborts the previous run, and keeps the
* last data while a new read is on its way. Without load (null) it does nothing.
*/
function useAsync(load, deps) {
	const [state, setState] = useState({ loading: load !== null });
	useEffect(() => {
		if (!load) {
			setState({ loading: false });
			return;
		}
		const controller = new AbortController();
		setState((s) => ({
			data: s.data,
			loading: true
		}));
		load(controller.signal).then((data) => {
			if (!controller.signal.aborted) setState({
				data,
				loading: false
			});
		}, (error) => {
			if (controller.signal.aborted) return;
			setState({
				error: error instanceof Error ? error : new Error(String(error)),
				loading: false
			});
		});
		return () => controller.abort();
	}, deps);
	return state;
}
// src/QuotaStatus.tsx
/**
* QuotaStatus shows the caller's quotas (`api/me`), or one client's (`api/clients/{id}`) when
* `client` is given: for each period the credits used against the limit as a progress bar, what
* remains and when the quota renews; "unlimited" for a quota without a limit; and when the numbers
* were read.
*/
function QuotaStatus(props) {
	const { data, client, refreshKey, locale, timeZone, headingLevel = 2 } = props;
	const api = useBillingClient(props);
	const state = useAsync(data ? null : (signal) => client ? api.client(client, signal) : api.me(signal), [
		data,
		api,
		client,
		refreshKey
	]);
	const report = data ?? state.data;
	const headingId = useId();
	const Heading = `h${headingLevel}`;
	const title = props.title ?? (client ? `Quotas of ${client}` : "Quotas");
	return /* @__PURE__ */ jsxs("section", {
		className: "ab-quota-status",
		"aria-labelledby": headingId,
		"aria-busy": state.loading,
		children: [
			/* @__PURE__ */ jsx(Heading, {
				id: headingId,
				className: "ab-heading",
				children: title
			}),
			state.error && !data ? /* @__PURE__ */ jsx("p", {
				className: "ab-error",
				role: "alert",
				children: state.error.message
			}) : !report ? /* @__PURE__ */ jsx("p", {
				className: "ab-loading",
				children: "Loading…"
			}) : report.quotas.length === 0 ? /* @__PURE__ */ jsxs("p", {
				className: "ab-empty",
				children: [report.client, " has no quotas."]
			}) : /* @__PURE__ */ jsx("ul", {
				className: "ab-quota-list",
				children: report.quotas.map((q, i) => /* @__PURE__ */ jsxs("li", {
					className: "ab-quota",
					children: [/* @__PURE__ */ jsx(QuotaMeter, {
						quota: q,
						locale
					}), /* @__PURE__ */ jsxs("dl", {
						className: "ab-quota-facts",
						children: [/* @__PURE__ */ jsxs("div", { children: [/* @__PURE__ */ jsx("dt", { children: "Remaining" }), /* @__PURE__ */ jsx("dd", { children: q.remaining === null ? "unlimited" : formatCredits(q.remaining, locale) })] }), q.resets_at && /* @__PURE__ */ jsxs("div", { children: [/* @__PURE__ */ jsx("dt", { children: "Renews" }), /* @__PURE__ */ jsxs("dd", { children: [
							/* @__PURE__ */ jsx("time", {
								dateTime: q.resets_at,
								children: formatTime(q.resets_at, {
									locale,
									timeZone
								})
							}),
							" ",
							/* @__PURE__ */ jsxs("span", {
								className: "ab-muted",
								children: [
									"(",
									formatDuration(report.as_of, q.resets_at, locale),
									")"
								]
							})
						] })] })]
					})]
				}, `${q.period}-${i}`))
			}),
			report && /* @__PURE__ */ jsxs("p", {
				className: "ab-as-of",
				children: [
					report.client && !client && /* @__PURE__ */ jsxs(Fragment, { children: [
						"Client ",
						report.client,
						" · "
					] }),
					"As of ",
					/* @__PURE__ */ jsx("time", {
						dateTime: report.as_of,
						children: formatTime(report.as_of, {
							locale,
							timeZone
						})
					})
				]
			})
		]
	});
}
// src/days.ts
var DAY_MS = 864e5;
var ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** isDate tells whether s is a real calendar date written YYYY-MM-DD. */
function isDate(s) {
	const m = ISO_DATE.exec(s);
	if (!m) return false;
	const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
	return d.getUTCFullYear() === +m[1] && d.getUTCMonth() === +m[2] - 1 && d.getUTCDate() === +m[3];
}
/** addDays returns the date n calendar days after date (both YYYY-MM-DD). */
function addDays(date, n) {
	const m = ISO_DATE.exec(date);
	if (!m) throw new RangeError(`apibilling: not a date: ${date}`);
	return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]) + n * DAY_MS).toISOString().slice(0, 10);
}
/** daysBetween returns every date from `from` to `to`, both inclusive; empty when to is before from. */
function daysBetween(from, to, max = 3700) {
	const out = [];
	for (let d = from; d <= to && out.length < max; d = addDays(d, 1)) out.push(d);
	return out;
}
/** todayIn returns today's date (YYYY-MM-DD) in the IANA zone tz, by the clock `now`. */
function todayIn(tz, now = /* @__PURE__ */ new Date()) {
	const parts = new Intl.DateTimeFormat("en-US", {
		timeZone: tz,
		year: "numeric",
		month: "2-digit",
		day: "2-digit"
	}).formatToParts(now);
	const get = (type) => parts.find((p) => p.type === type)?.value ?? "";
	return `${get("year")}-${get("month")}-${get("day")}`;
}
/** lastDays returns the range of the n days that end today in tz. */
function lastDays(n, tz, now = /* @__PURE__ */ new Date()) {
	const to = todayIn(tz, now);
	return {
		from: addDays(to, 1 - n),
		to
	};
}
/**
* fillDays returns one entry per day of the report's range, in order, with zeros for the days the
* report lacks. The API zero-fills already; this keeps the chart right if a day is ever missing.
*/
function fillDays(report) {
	const byDate = new Map(report.days.map((d) => [d.date, d]));
	if (!isDate(report.from) || !isDate(report.to)) return report.days;
	return daysBetween(report.from, report.to).map((date) => byDate.get(date) ?? {
		date,
		total: 0,
		routes: {}
	});
}
// src/stack.ts
/** PALETTE holds the route colours: the Okabe–Ito set, told apart with colour-blindness too. */
var PALETTE = [
	"#0072b2",
	"#e69f00",
	"#009e73",
	"#cc79a7",
	"#56b4e9",
	"#d55e00",
	"#7b5aa6",
	"#3d3d3d"
];
/** OTHER_COLOR is the colour of "Other routes", the routes past the chart's maximum. */
var OTHER_COLOR = "#9a9a9a";
/** OTHER_ROUTES names the series that sums the routes past the chart's maximum. */
var OTHER_ROUTES = "Other routes";
/**
* stackUsage turns a usage report into stacked bars: every day of the range (zero-filled), routes
* ordered by their credits over the range (largest at the bottom), and the routes past maxRoutes
* summed as "Other routes".
*/
function stackUsage(report, maxRoutes = 8) {
	const days = fillDays(report);
	const totals = /* @__PURE__ */ new Map();
	for (const day of days) for (const [route, credits] of Object.entries(day.routes)) totals.set(route, add(totals.get(route) ?? 0, credits));
	const ordered = [...totals].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
	const keep = ordered.length > maxRoutes ? maxRoutes - 1 : ordered.length;
	const series = ordered.slice(0, keep).map(([name, total], i) => ({
		name,
		total,
		color: PALETTE[i % PALETTE.length],
		routes: [name]
	}));
	const seriesOf = new Map(series.map((s) => [s.name, s]));
	if (keep < ordered.length) {
		const rest = ordered.slice(keep);
		const other = {
			name: OTHER_ROUTES,
			color: OTHER_COLOR,
			total: rest.reduce((sum, [, t]) => add(sum, t), 0),
			routes: rest.map(([name]) => name)
		};
		series.push(other);
		for (const [name] of rest) seriesOf.set(name, other);
	}
	let max = 0;
	return {
		series,
		days: days.map((day) => {
			const values = /* @__PURE__ */ new Map();
			for (const [route, credits] of Object.entries(day.routes)) {
				const s = seriesOf.get(route);
				if (s) values.set(s, add(values.get(s) ?? 0, credits));
			}
			let y = 0;
			const segments = series.filter((s) => (values.get(s) ?? 0) > 0).map((s) => {
				const value = values.get(s) ?? 0;
				const seg = {
					series: s,
					value,
					y0: y,
					y1: add(y, value)
				};
				y = seg.y1;
				return seg;
			});
			const total = Math.max(day.total, y);
			max = Math.max(max, total);
			return {
				date: day.date,
				total: day.total,
				segments
			};
		}),
		max
	};
}
/** add sums credits kept to 6 decimals without binary noise (0.1 + 0.2 gives 0.3). */
function add(a, b) {
	return Math.round((a + b) * 1e6) / 1e6;
}
/** niceTicks returns 0 and evenly spaced round values (1, 2 or 5 times a power of ten) up to at least max. */
function niceTicks(max, count = 4) {
	if (!(max > 0)) return [0, 1];
	const raw = max / count;
	const power = 10 ** Math.floor(Math.log10(raw));
	const step = [
		1,
		2,
		2.5,
		5,
		10
	].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
	const n = Math.ceil(max / step - 1e-9);
	return Array.from({ length: n + 1 }, (_, i) => Math.round(i * step * 1e6) / 1e6);
}
// src/useWidth.ts
/** useWidth measures an element's content width, following resizes where ResizeObserver exists. */
function useWidth(fallback) {
	const ref = useRef(null);
	const [width, setWidth] = useState(fallback);
	useEffect(() => {
		const el = ref.current;
		if (!el) return;
		const measure = () => {
			const w = Math.floor(el.clientWidth);
			if (w > 0) setWidth(w);
		};
		measure();
		if (typeof ResizeObserver === "undefined") return;
		const observer = new ResizeObserver(measure);
		observer.observe(el);
		return () => observer.disconnect();
	}, []);
	return [ref, width];
}
// src/UsageChart.tsx
/**
* UsageChart shows credits per day over a range as bars stacked by route, in plain SVG, with a
* legend and the same numbers as a table. It reads `api/me/usage`, or `api/clients/{id}/usage`
* when `client` is given; every day of the range is shown, days without usage as zero.
*/
function UsageChart(props) {
	const { data, client, from, to, tz, refreshKey, locale, maxRoutes = 8, headingLevel = 2 } = props;
	const api = useBillingClient(props);
	const canLoad = !data && !!from && !!to;
	const state = useAsync(canLoad ? (signal) => {
		const range = {
			from,
			to,
			tz
		};
		return client ? api.clientUsage(client, range, signal) : api.meUsage(range, signal);
	} : null, [
		canLoad,
		api,
		client,
		from,
		to,
		tz,
		refreshKey
	]);
	const report = data ?? state.data;
	const stacked = useMemo(() => report ? stackUsage(report, maxRoutes) : null, [report, maxRoutes]);
	const headingId = useId();
	const Heading = `h${headingLevel}`;
	const title = props.title ?? (client ? `Usage of ${client} per day` : "Usage per day");
	return /* @__PURE__ */ jsxs("section", {
		className: "ab-usage",
		"aria-labelledby": headingId,
		"aria-busy": state.loading,
		children: [/* @__PURE__ */ jsx(Heading, {
			id: headingId,
			className: "ab-heading",
			children: title
		}), state.error && !data ? /* @__PURE__ */ jsx("p", {
			className: "ab-error",
			role: "alert",
			children: state.error.message
		}) : !report || !stacked ? /* @__PURE__ */ jsx("p", {
			className: "ab-loading",
			children: canLoad ? "Loading…" : "Choose a range of days."
		}) : /* @__PURE__ */ jsxs(Fragment, { children: [
			/* @__PURE__ */ jsxs("p", {
				className: "ab-usage-summary",
				children: [
					/* @__PURE__ */ jsxs("strong", { children: [formatCredits(report.total, locale), " credits"] }),
					" from ",
					formatDay(report.from, locale),
					" to",
					" ",
					formatDay(report.to, locale),
					" (",
					report.tz,
					")"
				]
			}),
			/* @__PURE__ */ jsx(Chart, {
				report,
				stacked,
				height: props.height ?? 240,
				locale
			}),
			/* @__PURE__ */ jsx(Legend, {
				stacked,
				locale
			}),
			/* @__PURE__ */ jsx(UsageTable, {
				report,
				stacked,
				locale
			})
		] })]
	});
}
var MARGIN = {
	top: 8,
	right: 8,
	bottom: 24,
	left: 48
};
function Chart({ report, stacked, height, locale }) {
	const [ref, width] = useWidth(640);
	const titleId = useId();
	const descId = useId();
	const days = stacked.days;
	const ticks = niceTicks(stacked.max);
	const top = ticks[ticks.length - 1];
	const plotW = Math.max(1, width - MARGIN.left - MARGIN.right);
	const plotH = Math.max(1, height - MARGIN.top - MARGIN.bottom);
	const slot = plotW / Math.max(1, days.length);
	const barW = Math.max(1, slot * .72);
	const y = (v) => MARGIN.top + plotH - v / top * plotH;
	const labelEvery = Math.max(1, Math.ceil(days.length / Math.max(1, Math.floor(plotW / 52))));
	const busiest = days.reduce((b, d) => !b || d.total > b.total ? d : b, void 0);
	return /* @__PURE__ */ jsx("div", {
		className: "ab-chart",
		ref,
		children: /* @__PURE__ */ jsxs("svg", {
			role: "img",
			"aria-labelledby": `${titleId} ${descId}`,
			width,
			height,
			viewBox: `0 0 ${width} ${height}`,
			children: [
				/* @__PURE__ */ jsxs("title", {
					id: titleId,
					children: [
						"Credits per day by route, ",
						formatDay(report.from, locale),
						" to ",
						formatDay(report.to, locale)
					]
				}),
				/* @__PURE__ */ jsx("desc", {
					id: descId,
					children: stacked.max > 0 && busiest ? `Total ${formatCredits(report.total, locale)} credits over ${days.length} days; the busiest day was ${formatDay(busiest.date, locale)} with ${formatCredits(busiest.total, locale)} credits. The table below lists every day.` : `No usage in these ${days.length} days.`
				}),
				/* @__PURE__ */ jsx("g", {
					className: "ab-axis ab-axis-y",
					children: ticks.map((t) => /* @__PURE__ */ jsxs("g", { children: [/* @__PURE__ */ jsx("line", {
						x1: MARGIN.left,
						x2: width - MARGIN.right,
						y1: y(t),
						y2: y(t)
					}), /* @__PURE__ */ jsx("text", {
						x: MARGIN.left - 6,
						y: y(t),
						dy: "0.32em",
						textAnchor: "end",
						children: formatCredits(t, locale)
					})] }, t))
				}),
				/* @__PURE__ */ jsx("g", {
					className: "ab-bars",
					children: days.map((day, i) => {
						const x = MARGIN.left + i * slot + (slot - barW) / 2;
						return /* @__PURE__ */ jsxs("g", {
							"data-date": day.date,
							children: [/* @__PURE__ */ jsx("title", { children: dayTooltip(day, locale) }), day.segments.map((seg) => /* @__PURE__ */ jsx("rect", {
								x,
								width: barW,
								y: y(seg.y1),
								height: Math.max(0, y(seg.y0) - y(seg.y1)),
								fill: seg.series.color,
								"data-route": seg.series.name,
								"data-value": seg.value
							}, seg.series.name))]
						}, day.date);
					})
				}),
				/* @__PURE__ */ jsx("g", {
					className: "ab-axis ab-axis-x",
					children: days.map((day, i) => i % labelEvery === 0 ? /* @__PURE__ */ jsx("text", {
						x: MARGIN.left + (i + .5) * slot,
						y: height - 6,
						textAnchor: "middle",
						children: formatDay(day.date, locale, "short")
					}, day.date) : null)
				})
			]
		})
	});
}
function dayTooltip(day, locale) {
	const parts = day.segments.map((s) => `${s.series.name}: ${formatCredits(s.value, locale)}`);
	const head = `${formatDay(day.date, locale)}: ${formatCredits(day.total, locale)} credits`;
	return parts.length ? `${head}\n${parts.join("\n")}` : head;
}
function Legend({ stacked, locale }) {
	if (stacked.series.length === 0) return /* @__PURE__ */ jsx("p", {
		className: "ab-empty",
		children: "No usage in this range."
	});
	return /* @__PURE__ */ jsx("ul", {
		className: "ab-legend",
		"aria-label": "Routes",
		children: stacked.series.map((s) => /* @__PURE__ */ jsxs("li", {
			title: s.routes.length > 1 ? s.routes.join(", ") : void 0,
			children: [
				/* @__PURE__ */ jsx("span", {
					className: "ab-swatch",
					style: { background: s.color },
					"aria-hidden": "true"
				}),
				/* @__PURE__ */ jsx("span", {
					className: "ab-legend-route",
					children: s.name
				}),
				" ",
				/* @__PURE__ */ jsx("span", {
					className: "ab-muted",
					children: formatCredits(s.total, locale)
				})
			]
		}, s.name))
	});
}
function UsageTable({ report, stacked, locale }) {
	const routes = stacked.series;
	return /* @__PURE__ */ jsxs("details", {
		className: "ab-table",
		children: [/* @__PURE__ */ jsx("summary", { children: "Show the numbers as a table" }), /* @__PURE__ */ jsx("div", {
			className: "ab-table-scroll",
			children: /* @__PURE__ */ jsxs("table", { children: [
				/* @__PURE__ */ jsxs("caption", { children: [
					"Credits per day and route, ",
					formatDay(report.from, locale),
					" to ",
					formatDay(report.to, locale),
					" (",
					report.tz,
					")"
				] }),
				/* @__PURE__ */ jsx("thead", { children: /* @__PURE__ */ jsxs("tr", { children: [
					/* @__PURE__ */ jsx("th", {
						scope: "col",
						children: "Date"
					}),
					routes.map((s) => /* @__PURE__ */ jsx("th", {
						scope: "col",
						children: s.name
					}, s.name)),
					/* @__PURE__ */ jsx("th", {
						scope: "col",
						children: "Total"
					})
				] }) }),
				/* @__PURE__ */ jsx("tbody", { children: stacked.days.map((day) => /* @__PURE__ */ jsxs("tr", { children: [
					/* @__PURE__ */ jsx("th", {
						scope: "row",
						children: /* @__PURE__ */ jsx("time", {
							dateTime: day.date,
							children: day.date
						})
					}),
					routes.map((s) => /* @__PURE__ */ jsx("td", { children: formatCredits(day.segments.find((seg) => seg.series === s)?.value ?? 0, locale) }, s.name)),
					/* @__PURE__ */ jsx("td", { children: formatCredits(day.total, locale) })
				] }, day.date)) }),
				/* @__PURE__ */ jsx("tfoot", { children: /* @__PURE__ */ jsxs("tr", { children: [
					/* @__PURE__ */ jsx("th", {
						scope: "row",
						children: "Total"
					}),
					routes.map((s) => /* @__PURE__ */ jsx("td", { children: formatCredits(s.total, locale) }, s.name)),
					/* @__PURE__ */ jsx("td", { children: formatCredits(report.total, locale) })
				] }) })
			] })
		})]
	});
}
export { ApiError, DEFAULT_BASE_URL, OTHER_ROUTES, PALETTE, QuotaMeter, QuotaStatus, UsageChart, addDays, createClient, daysBetween, fillDays, formatCredits, formatDay, formatTime, isDate, lastDays, niceTicks, periodLabel, quotaLevel, stackUsage, todayIn };
