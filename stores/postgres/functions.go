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
	// fnDeductBatch calls fnDeduct once per op of a group commit.
	fnDeductBatch = "deduct_batch_1"
)

// functions are created by [Store.setup] in {t} (the store's schema and
// prefix).
//
// Every function that changes a client's rows first takes the client's
// lock, a transaction-level advisory lock (p_lock_class: the store's
// schema and prefix, p_lock_client: the client, both hashed to int4), and
// touches the client's rows only under it: one lock per transaction, so no
// two of them wait for each other in a cycle, and the rows read after it
// are the latest committed ones (READ COMMITTED takes a snapshot per
// statement). Prune deletes with SKIP LOCKED and never waits for them. The functions refuse to run at another
// isolation level (SQLSTATE AB001): the store then sends them inside
// BEGIN ISOLATION LEVEL READ COMMITTED, in the same round trip.
var functions = []function{
	{fnDeduct, `CREATE FUNCTION {t}` + fnDeduct + `(
	p_lock_class int, p_lock_client int,
	p_client bytea, p_label bytea, p_cost bigint, p_hour_start bigint, p_hour_end bigint,
	p_at bigint, p_key text, p_key_expires bigint,
	p_periods smallint[], p_starts bigint[], p_ends bigint[], p_limits bigint[], p_levels bigint[],
	p_cutoff bigint, p_lock_timeout text,
	OUT o_status int, OUT o_used bigint[], OUT o_fired bigint, OUT o_reset int,
	OUT k_label bytea, OUT k_cost bigint, OUT k_at bigint, OUT k_expires bigint,
	OUT k_hour_start bigint, OUT k_hour_end bigint, OUT k_periods smallint[],
	OUT k_starts bigint[], OUT k_ends bigint[], OUT k_limits bigint[], OUT k_used bigint[])
LANGUAGE plpgsql AS $fn$
-- Status: 0 refused, 1 admitted, 2 replayed, 3 key conflict, 4 refused on
-- overflow. o_fired holds 4 threshold bits per window, window i at bit 4i;
-- o_reset one bit per window whose ended counter had bits set. The k_
-- columns are the key record of a replay or conflict.
DECLARE
	n int := coalesce(cardinality(p_periods), 0);
	h_period smallint[];
	h_start bigint[];
	h_end bigint[];
	h_used bigint[];
	h_fired smallint[];
	c_start bigint[] := array_fill(NULL::bigint, ARRAY[n]);
	c_end bigint[] := array_fill(NULL::bigint, ARRAY[n]);
	c_used bigint[] := array_fill(NULL::bigint, ARRAY[n]);
	c_fired smallint[] := array_fill(NULL::smallint, ARRAY[n]);
	v_start bigint[] := p_starts;
	v_end bigint[] := p_ends;
	v_used bigint[] := array_fill(0::bigint, ARRAY[n]);
	v_fired smallint[] := array_fill(0::smallint, ARRAY[n]);
	held boolean := true;
	ok boolean := true;
	over boolean := false;
	fired_bits bigint := 0;
	reset_bits int := 0;
	agg bigint;
	bits int;
	lv bigint;
	ignored text;
BEGIN
	IF current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'apibilling: a deduction must run at READ COMMITTED' USING ERRCODE = 'AB001';
	END IF;
	o_fired := 0;
	o_reset := 0;
	ignored := set_config('lock_timeout', p_lock_timeout, true);
	IF p_cost > 0 OR p_key IS NOT NULL THEN
		PERFORM pg_advisory_xact_lock(p_lock_class, p_lock_client);
	END IF;
	IF p_key IS NOT NULL THEN
		SELECT r.label, r.cost, r.at_ns, r.expires_ns, r.hour_start, r.hour_end,
				r.periods, r.starts, r.ends, r.limits, r.used
			INTO k_label, k_cost, k_at, k_expires, k_hour_start, k_hour_end,
				k_periods, k_starts, k_ends, k_limits, k_used
			FROM {t}keys r WHERE r.client = p_client AND r.idem_key = p_key;
		IF k_expires > p_at THEN
			o_status := CASE WHEN k_cost = p_cost AND k_label = p_label THEN 2 ELSE 3 END;
			RETURN;
		END IF;
	END IF;
	-- The client's counters, all of them in one read of the primary key.
	SELECT array_agg(w.period), array_agg(w.start_ns), array_agg(w.end_ns), array_agg(w.used), array_agg(w.fired)
		INTO h_period, h_start, h_end, h_used, h_fired
		FROM {t}windows w WHERE w.client = p_client;
	FOR i IN 1..n LOOP
		FOR j IN 1..coalesce(cardinality(h_period), 0) LOOP
			IF h_period[j] = p_periods[i] THEN
				c_start[i] := h_start[j];
				c_end[i] := h_end[j];
				c_used[i] := h_used[j];
				c_fired[i] := h_fired[j];
			END IF;
		END LOOP;
		-- A counter of a later window than the op's counts (the op's window
		-- has ended); one of an earlier window does not.
		IF c_start[i] IS NULL THEN
			held := false;
		ELSIF p_starts[i] <= c_start[i] THEN
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
		-- The hour aggregate first: it refuses to pass MaxUsage.
		INSERT INTO {t}usage AS a (client, hour_start, label, hour_end, used)
			VALUES (p_client, p_hour_start, p_label, p_hour_end, p_cost)
			ON CONFLICT (client, hour_start, label) DO UPDATE SET used = a.used + EXCLUDED.used
			WHERE a.used <= 9223372036854775807 - EXCLUDED.used
			RETURNING a.used INTO agg;
		IF NOT FOUND THEN
			ok := false;
			over := true;
		END IF;
	END IF;
	IF NOT ok THEN
		o_status := CASE WHEN over THEN 4 ELSE 0 END;
		o_used := v_used;
		RETURN;
	END IF;
	IF p_cost > 0 THEN
		FOR i IN 1..n LOOP
			IF c_start[i] IS NULL OR p_starts[i] > c_start[i] THEN
				IF c_fired[i] <> 0 THEN
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
		IF held THEN
			-- One update by primary key per window: cheaper to plan and run
			-- than a join with the arrays.
			FOR i IN 1..n LOOP
				UPDATE {t}windows w SET start_ns = v_start[i], end_ns = v_end[i], used = v_used[i], fired = v_fired[i]
					WHERE w.client = p_client AND w.period = p_periods[i];
			END LOOP;
		ELSE
			INSERT INTO {t}windows AS w (client, period, start_ns, end_ns, used, fired)
				SELECT p_client, x.period, x.start_ns, x.end_ns, x.used, x.fired
				FROM unnest(p_periods, v_start, v_end, v_used, v_fired) AS x(period, start_ns, end_ns, used, fired)
				ORDER BY x.period
				ON CONFLICT (client, period) DO UPDATE SET start_ns = EXCLUDED.start_ns,
					end_ns = EXCLUDED.end_ns, used = EXCLUDED.used, fired = EXCLUDED.fired;
		END IF;
		-- The client's first charge of an hour (or one after a refund to
		-- zero) drops a few of its aggregates past the retention; Prune
		-- removes the rest.
		IF agg = p_cost AND p_cutoff IS NOT NULL THEN
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
	o_status := 1;
	o_used := v_used;
	o_fired := fired_bits;
	o_reset := reset_bits;
END
$fn$`},

	// The batch of a group commit: the ops' arguments as arrays, one
	// element per op (the windows of all ops concatenated, p_counts[i] of
	// op i, four levels per window), each op one call of fnDeduct in the
	// order given, in the caller's one transaction. Its rows are
	// fnDeduct's, in that order, after the op's index. The store sends
	// the ops sorted by client lock (then client, then arrival), so that a
	// batch takes its locks in one global order.
	{fnDeductBatch, `CREATE FUNCTION {t}` + fnDeductBatch + `(
	p_lock_class int, p_lock_clients int[],
	p_clients bytea[], p_labels bytea[], p_costs bigint[], p_hour_starts bigint[], p_hour_ends bigint[],
	p_ats bigint[], p_keys text[], p_key_expires bigint[],
	p_counts int[], p_periods smallint[], p_starts bigint[], p_ends bigint[], p_limits bigint[], p_levels bigint[],
	p_cutoffs bigint[], p_lock_timeout text)
RETURNS TABLE (o_index int, o_status int, o_used bigint[], o_fired bigint, o_reset int,
	k_label bytea, k_cost bigint, k_at bigint, k_expires bigint,
	k_hour_start bigint, k_hour_end bigint, k_periods smallint[],
	k_starts bigint[], k_ends bigint[], k_limits bigint[], k_used bigint[])
LANGUAGE plpgsql AS $fn$
DECLARE
	w int := 0;
	n int;
BEGIN
	FOR i IN 1..coalesce(cardinality(p_clients), 0) LOOP
		n := p_counts[i];
		RETURN QUERY SELECT i, d.* FROM {t}` + fnDeduct + `(p_lock_class, p_lock_clients[i],
			p_clients[i], p_labels[i], p_costs[i], p_hour_starts[i], p_hour_ends[i],
			p_ats[i], p_keys[i], p_key_expires[i],
			coalesce(p_periods[w + 1:w + n], '{}'), coalesce(p_starts[w + 1:w + n], '{}'),
			coalesce(p_ends[w + 1:w + n], '{}'), coalesce(p_limits[w + 1:w + n], '{}'),
			coalesce(p_levels[4 * w + 1:4 * (w + n)], '{}'),
			p_cutoffs[i], p_lock_timeout) d;
		w := w + n;
	END LOOP;
END
$fn$`},

	{fnRefund, `CREATE FUNCTION {t}` + fnRefund + `(
	p_lock_class int, p_lock_client int,
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
	PERFORM pg_advisory_xact_lock(p_lock_class, p_lock_client);
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
	p_lock_class int, p_lock_client int,
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
	PERFORM pg_advisory_xact_lock(p_lock_class, p_lock_client);
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
