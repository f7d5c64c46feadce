package postgres

// function is a PL/pgSQL function the store creates beside its tables and
// calls: every operation that changes state is one call of one, so it is
// one statement, one round trip and one transaction.
type function struct {
	name string // after the prefix; ends with the body's revision
	body string
}

// The functions' names. A changed body takes a new revision, so that a
// process still running the previous version calls the previous body.
const (
	fnDeduct = "deduct_1"
	fnRefund = "refund_1"
	fnDelete = "delete_1"
)

// functions are created by [Store.setup] in {t} (the store's schema and
// prefix).
//
// Every function that changes a client's rows first locks the client's row
// in {t}clients, and touches the client's other rows only under it: one
// lock per transaction, so no two of them wait for each other in a cycle,
// and the counters read after it are the latest committed ones (READ
// COMMITTED takes a snapshot per statement). Prune deletes with SKIP
// LOCKED and never waits for them. The functions refuse to run at another
// isolation level (SQLSTATE AB001): the store then sends them inside
// BEGIN ISOLATION LEVEL READ COMMITTED, in the same round trip.
var functions = []function{
	{fnDeduct, `CREATE FUNCTION {t}` + fnDeduct + `(
	p_client bytea, p_label bytea, p_cost bigint, p_hour_start bigint, p_hour_end bigint,
	p_at bigint, p_key text, p_key_expires bigint,
	p_periods smallint[], p_starts bigint[], p_ends bigint[], p_limits bigint[], p_levels bigint[],
	p_cutoff bigint, p_lock_timeout text)
RETURNS TABLE (o_status smallint, o_used bigint[], o_fired bigint, o_reset smallint,
	k_label bytea, k_cost bigint, k_at bigint, k_expires bigint, k_hour_start bigint, k_hour_end bigint,
	k_periods smallint[], k_starts bigint[], k_ends bigint[], k_limits bigint[], k_used bigint[])
LANGUAGE plpgsql AS $fn$
-- Status: 0 refused, 1 admitted, 2 replayed, 3 key conflict, 4 refused on
-- overflow. o_fired holds 4 threshold bits per window, window i at bit 4i;
-- o_reset one bit per window whose ended counter had bits set.
DECLARE
	n int := coalesce(cardinality(p_periods), 0);
	c_start bigint[]; c_end bigint[]; c_used bigint[]; c_fired smallint[];
	v_start bigint[] := p_starts;
	v_end bigint[] := p_ends;
	v_used bigint[] := array_fill(0::bigint, ARRAY[n]);
	v_fired smallint[] := array_fill(0::smallint, ARRAY[n]);
	ok boolean := true;
	over boolean := false;
	fired_bits bigint := 0;
	reset_bits int := 0;
	agg bigint;
	bits int;
	lv bigint;
	k {t}keys%ROWTYPE;
BEGIN
	IF current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'apibilling: a deduction must run at READ COMMITTED' USING ERRCODE = 'AB001';
	END IF;
	PERFORM set_config('lock_timeout', p_lock_timeout, true);
	IF p_cost > 0 OR p_key IS NOT NULL THEN
		INSERT INTO {t}clients AS c (client) VALUES (p_client)
			ON CONFLICT (client) DO UPDATE SET client = c.client WHERE false;
	END IF;
	IF p_key IS NOT NULL THEN
		SELECT * INTO k FROM {t}keys r WHERE r.client = p_client AND r.idem_key = p_key;
		IF FOUND AND k.expires_ns > p_at THEN
			RETURN QUERY SELECT (CASE WHEN k.cost = p_cost AND k.label = p_label THEN 2 ELSE 3 END)::smallint,
				NULL::bigint[], 0::bigint, 0::smallint, k.label, k.cost, k.at_ns, k.expires_ns,
				k.hour_start, k.hour_end, k.periods, k.starts, k.ends, k.limits, k.used;
			RETURN;
		END IF;
	END IF;
	SELECT array_agg(w.start_ns ORDER BY x.i), array_agg(w.end_ns ORDER BY x.i),
			array_agg(w.used ORDER BY x.i), array_agg(w.fired ORDER BY x.i)
		INTO c_start, c_end, c_used, c_fired
		FROM unnest(p_periods) WITH ORDINALITY AS x(period, i)
		LEFT JOIN {t}windows w ON w.client = p_client AND w.period = x.period;
	FOR i IN 1..n LOOP
		-- A counter of a later window than the op's counts (the op's window
		-- has ended); one of an earlier window does not.
		IF c_start[i] IS NOT NULL AND p_starts[i] <= c_start[i] THEN
			v_used[i] := c_used[i];
		END IF;
		IF NOT (p_cost = 0 OR p_limits[i] < 0 OR v_used[i] <= p_limits[i] - p_cost) THEN
			ok := false;
		END IF;
		IF v_used[i] > 9223372036854775807 - p_cost THEN
			ok := false;
			over := true;
		END IF;
	END LOOP;
	IF ok AND p_cost > 0 THEN
		SELECT a.used INTO agg FROM {t}usage a
			WHERE a.client = p_client AND a.hour_start = p_hour_start AND a.label = p_label;
		IF agg > 9223372036854775807 - p_cost THEN
			ok := false;
			over := true;
		END IF;
	END IF;
	IF NOT ok THEN
		RETURN QUERY SELECT (CASE WHEN over THEN 4 ELSE 0 END)::smallint, v_used, 0::bigint, 0::smallint,
			NULL::bytea, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
			NULL::smallint[], NULL::bigint[], NULL::bigint[], NULL::bigint[], NULL::bigint[];
		RETURN;
	END IF;
	IF p_cost > 0 THEN
		FOR i IN 1..n LOOP
			IF c_start[i] IS NULL OR p_starts[i] > c_start[i] THEN
				IF c_start[i] IS NOT NULL AND c_fired[i] <> 0 THEN
					reset_bits := reset_bits | (1 << (i - 1));
				END IF;
				v_used[i] := p_cost;
			ELSE
				v_start[i] := c_start[i];
				v_end[i] := c_end[i];
				v_used[i] := c_used[i] + p_cost;
				v_fired[i] := c_fired[i];
			END IF;
			bits := 0;
			FOR j IN 0..3 LOOP
				lv := p_levels[(i - 1) * 4 + j + 1];
				IF lv > 0 AND v_used[i] >= lv AND (v_fired[i]::int & (1 << j)) = 0 THEN
					bits := bits | (1 << j);
				END IF;
			END LOOP;
			v_fired[i] := (v_fired[i]::int | bits)::smallint;
			fired_bits := fired_bits | (bits::bigint << (4 * (i - 1)));
		END LOOP;
		INSERT INTO {t}windows AS w (client, period, start_ns, end_ns, used, fired)
			SELECT p_client, x.period, x.start_ns, x.end_ns, x.used, x.fired
			FROM unnest(p_periods, v_start, v_end, v_used, v_fired) AS x(period, start_ns, end_ns, used, fired)
			ORDER BY x.period
			ON CONFLICT (client, period) DO UPDATE SET start_ns = EXCLUDED.start_ns,
				end_ns = EXCLUDED.end_ns, used = EXCLUDED.used, fired = EXCLUDED.fired;
		INSERT INTO {t}usage AS a (client, hour_start, label, hour_end, used)
			VALUES (p_client, p_hour_start, p_label, p_hour_end, p_cost)
			ON CONFLICT (client, hour_start, label) DO UPDATE SET used = a.used + EXCLUDED.used;
		-- The client's first charge of an hour drops a few of its
		-- aggregates past the retention; Prune removes the rest.
		IF agg IS NULL AND p_cutoff IS NOT NULL THEN
			DELETE FROM {t}usage a WHERE a.ctid = ANY (ARRAY(
				SELECT b.ctid FROM {t}usage b WHERE b.client = p_client AND b.hour_start < p_cutoff
				LIMIT 16 FOR UPDATE SKIP LOCKED));
		END IF;
	END IF;
	IF p_key IS NOT NULL THEN
		INSERT INTO {t}keys AS r (client, idem_key, label, cost, at_ns, expires_ns, hour_start, hour_end,
				periods, starts, ends, limits, used)
			VALUES (p_client, p_key, p_label, p_cost, p_at, p_key_expires, p_hour_start, p_hour_end,
				p_periods, p_starts, p_ends, p_limits, v_used)
			ON CONFLICT (client, idem_key) DO UPDATE SET label = EXCLUDED.label, cost = EXCLUDED.cost,
				at_ns = EXCLUDED.at_ns, expires_ns = EXCLUDED.expires_ns, hour_start = EXCLUDED.hour_start,
				hour_end = EXCLUDED.hour_end, periods = EXCLUDED.periods, starts = EXCLUDED.starts,
				ends = EXCLUDED.ends, limits = EXCLUDED.limits, used = EXCLUDED.used;
	END IF;
	RETURN QUERY SELECT 1::smallint, v_used, fired_bits, reset_bits::smallint,
		NULL::bytea, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
		NULL::smallint[], NULL::bigint[], NULL::bigint[], NULL::bigint[], NULL::bigint[];
END
$fn$`},

	{fnRefund, `CREATE FUNCTION {t}` + fnRefund + `(
	p_client bytea, p_label bytea, p_cost bigint, p_hour_start bigint, p_at bigint, p_key text,
	p_periods smallint[], p_starts bigint[], p_lock_timeout text)
RETURNS int
LANGUAGE plpgsql AS $fn$
DECLARE
	k {t}keys%ROWTYPE;
BEGIN
	IF current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'apibilling: a refund must run at READ COMMITTED' USING ERRCODE = 'AB001';
	END IF;
	PERFORM set_config('lock_timeout', p_lock_timeout, true);
	PERFORM 1 FROM {t}clients c WHERE c.client = p_client FOR UPDATE;
	IF NOT FOUND THEN
		RETURN 0;
	END IF;
	IF p_key IS NOT NULL THEN
		DELETE FROM {t}keys r WHERE r.client = p_client AND r.idem_key = p_key AND r.expires_ns > p_at
			RETURNING * INTO k;
		IF NOT FOUND THEN
			RETURN 0;
		END IF;
		p_label := k.label;
		p_cost := k.cost;
		p_hour_start := k.hour_start;
		p_periods := k.periods;
		p_starts := k.starts;
	END IF;
	IF p_cost = 0 THEN
		RETURN 0;
	END IF;
	UPDATE {t}windows w SET used = GREATEST(0, w.used - p_cost)
		FROM unnest(p_periods, p_starts) AS x(period, start_ns)
		WHERE w.client = p_client AND w.period = x.period AND w.start_ns = x.start_ns;
	UPDATE {t}usage a SET used = GREATEST(0, a.used - p_cost)
		WHERE a.client = p_client AND a.hour_start = p_hour_start AND a.label = p_label;
	RETURN 1;
END
$fn$`},

	{fnDelete, `CREATE FUNCTION {t}` + fnDelete + `(
	p_client bytea, p_from bigint, p_to bigint,
	p_periods smallint[], p_starts bigint[], p_ends bigint[], p_lock_timeout text)
RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
	total numeric;
BEGIN
	IF current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'apibilling: a deletion must run at READ COMMITTED' USING ERRCODE = 'AB001';
	END IF;
	PERFORM set_config('lock_timeout', p_lock_timeout, true);
	PERFORM 1 FROM {t}clients c WHERE c.client = p_client FOR UPDATE;
	IF NOT FOUND THEN
		RETURN 0;
	END IF;
	WITH gone AS (
		DELETE FROM {t}usage a WHERE a.client = p_client AND a.hour_start >= p_from AND a.hour_start < p_to
		RETURNING a.hour_start, a.hour_end, a.used
	), per AS (
		SELECT x.period, x.start_ns, sum(g.used) AS credits
		FROM unnest(p_periods, p_starts, p_ends) AS x(period, start_ns, end_ns)
		JOIN gone g ON g.hour_start < x.end_ns AND x.start_ns < g.hour_end
		GROUP BY x.period, x.start_ns
	), upd AS (
		UPDATE {t}windows w SET used = GREATEST(0, w.used - LEAST(per.credits, 9223372036854775807))::bigint
		FROM per WHERE w.client = p_client AND w.period = per.period AND w.start_ns = per.start_ns
	)
	SELECT coalesce(sum(g.used), 0) INTO total FROM gone g;
	RETURN LEAST(total, 9223372036854775807)::bigint;
END
$fn$`},
}
