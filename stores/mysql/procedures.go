package mysql

import (
	"fmt"
	"strings"

	"github.com/frappy-go/apibilling/core"
)

// procedure is a stored procedure the store creates beside its tables and
// calls: every operation that changes state is one CALL, so it is one
// round trip and one transaction.
type procedure struct {
	name string // after the prefix; ends with the body's revision
	body string
}

// The procedures' names. A changed body takes a new revision, so that a
// process still running the previous version calls the previous body.
const (
	procDeduct = "deduct_1"
	procRefund = "refund_1"
	procDelete = "delete_1"
)

// procedures are created by [Store.setup]; {t}name is a table or procedure
// name with the store's prefix.
//
// Each procedure runs its own transaction at READ COMMITTED, with the
// session's innodb_lock_wait_timeout set from [Options.Timeout], and
// commits before it returns its result set, so a result proves the
// commit. A procedure that changes a client's rows first locks the
// client's row in {t}clients and touches the client's other rows only
// under it: one lock per transaction, so no two of them wait for each
// other in a cycle, and the counters read after it are the latest
// committed ones. Prune deletes with SKIP LOCKED and never waits for them.
//
// The key records keep their windows as text, "period,start,end,limit,used;"
// per window; the refund and delete procedures take windows in the same
// form.
var procedures = []procedure{
	{procDeduct, deductBody()},

	{procRefund, `CREATE PROCEDURE {t}` + procRefund + `(
	IN p_client VARBINARY(256), IN p_label VARBINARY(256), IN p_cost BIGINT, IN p_hour_start BIGINT,
	IN p_at BIGINT, IN p_key VARBINARY(255), IN p_windows VARBINARY(1024), IN p_lock_wait INT)
proc: BEGIN
	DECLARE held VARBINARY(256);
	DECLARE k_label VARBINARY(256);
	DECLARE k_cost, k_hour_start, w_start BIGINT;
	DECLARE k_windows VARBINARY(1024);
	DECLARE item VARBINARY(200);
	DECLARE w_period INT;
	DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
	SET SESSION innodb_lock_wait_timeout = p_lock_wait;
	SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
	START TRANSACTION;
	SELECT client INTO held FROM {t}clients WHERE client = p_client FOR UPDATE;
	IF held IS NULL THEN
		COMMIT;
		SELECT 0;
		LEAVE proc;
	END IF;
	IF p_key IS NOT NULL THEN
		SELECT label, cost, hour_start, windows INTO k_label, k_cost, k_hour_start, k_windows
			FROM {t}keys WHERE client = p_client AND idem_key = p_key AND expires_ns > p_at;
		IF k_cost IS NULL THEN
			COMMIT;
			SELECT 0;
			LEAVE proc;
		END IF;
		DELETE FROM {t}keys WHERE client = p_client AND idem_key = p_key;
		SET p_label = k_label, p_cost = k_cost, p_hour_start = k_hour_start, p_windows = k_windows;
	END IF;
	IF p_cost > 0 THEN
		WHILE LENGTH(p_windows) > 0 DO
			SET item = SUBSTRING_INDEX(p_windows, ';', 1);
			SET p_windows = SUBSTRING(p_windows, LENGTH(item) + 2);
			SET w_period = CAST(SUBSTRING_INDEX(item, ',', 1) AS SIGNED),
				w_start = CAST(SUBSTRING_INDEX(SUBSTRING_INDEX(item, ',', 2), ',', -1) AS SIGNED);
			UPDATE {t}windows SET used = IF(used > p_cost, used - p_cost, 0)
				WHERE client = p_client AND period = w_period AND start_ns = w_start;
		END WHILE;
		UPDATE {t}usage SET used = IF(used > p_cost, used - p_cost, 0)
			WHERE client = p_client AND hour_start = p_hour_start AND label = p_label;
	END IF;
	COMMIT;
	SELECT 1;
END`},

	{procDelete, `CREATE PROCEDURE {t}` + procDelete + `(
	IN p_client VARBINARY(256), IN p_from BIGINT, IN p_to BIGINT, IN p_windows VARBINARY(1024), IN p_lock_wait INT)
proc: BEGIN
	DECLARE held VARBINARY(256);
	DECLARE item VARBINARY(200);
	DECLARE w_period INT;
	DECLARE w_start, w_end BIGINT;
	DECLARE credits, total DECIMAL(65, 0);
	DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
	SET SESSION innodb_lock_wait_timeout = p_lock_wait;
	SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
	START TRANSACTION;
	SELECT client INTO held FROM {t}clients WHERE client = p_client FOR UPDATE;
	IF held IS NULL THEN
		COMMIT;
		SELECT 0;
		LEAVE proc;
	END IF;
	WHILE LENGTH(p_windows) > 0 DO
		SET item = SUBSTRING_INDEX(p_windows, ';', 1);
		SET p_windows = SUBSTRING(p_windows, LENGTH(item) + 2);
		SET w_period = CAST(SUBSTRING_INDEX(item, ',', 1) AS SIGNED),
			w_start = CAST(SUBSTRING_INDEX(SUBSTRING_INDEX(item, ',', 2), ',', -1) AS SIGNED),
			w_end = CAST(SUBSTRING_INDEX(SUBSTRING_INDEX(item, ',', 3), ',', -1) AS SIGNED);
		SELECT COALESCE(SUM(used), 0) INTO credits FROM {t}usage
			WHERE client = p_client AND hour_start >= p_from AND hour_start < p_to
			AND hour_start < w_end AND w_start < hour_end;
		IF credits > 0 THEN
			UPDATE {t}windows SET used = IF(used > credits, used - credits, 0)
				WHERE client = p_client AND period = w_period AND start_ns = w_start;
		END IF;
	END WHILE;
	SELECT COALESCE(SUM(used), 0) INTO total FROM {t}usage
		WHERE client = p_client AND hour_start >= p_from AND hour_start < p_to;
	DELETE FROM {t}usage WHERE client = p_client AND hour_start >= p_from AND hour_start < p_to;
	COMMIT;
	SELECT LEAST(total, 9223372036854775807);
END`},
}

// deductBody returns the deduct procedure. It takes each of up to
// core.MaxQuotas windows as parameters of its own (p0_period, p0_start,
// p0_end, p0_limit, p0_l0 to p0_l3, then p1_...; NULL past p_n) and keeps
// each window's counter in variables of its own, so that it neither parses
// lists nor reads a counter twice: the code for one window is written out
// once per window.
//
// Result: status (0 refused, 1 admitted, 2 replayed, 3 key conflict, 4
// refused on overflow), the windows' usage ("u0,u1,..."), the threshold
// bits set (4 per window, window i at bit 4i), the windows whose ended
// counter had bits set (bit i), and the key record of a replay or
// conflict.
func deductBody() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	each := func(format string) {
		for i := range core.MaxQuotas {
			b.WriteString(strings.ReplaceAll(format, "{i}", fmt.Sprint(i)))
		}
	}
	w("CREATE PROCEDURE {t}%s(\n", procDeduct)
	w("\tIN p_client VARBINARY(256), IN p_label VARBINARY(256), IN p_cost BIGINT,\n")
	w("\tIN p_hour_start BIGINT, IN p_hour_end BIGINT, IN p_at BIGINT,\n")
	w("\tIN p_key VARBINARY(255), IN p_key_expires BIGINT, IN p_n INT, IN p_cutoff BIGINT, IN p_lock_wait INT")
	each(",\n\tIN p{i}_period TINYINT, IN p{i}_start BIGINT, IN p{i}_end BIGINT, IN p{i}_limit BIGINT,\n" +
		"\tIN p{i}_l0 BIGINT, IN p{i}_l1 BIGINT, IN p{i}_l2 BIGINT, IN p{i}_l3 BIGINT")
	w(")\nproc: BEGIN\n")
	w(`	DECLARE v_ok, v_over BOOLEAN DEFAULT FALSE;
	DECLARE bits, v_reset INT DEFAULT 0;
	DECLARE v_fired BIGINT DEFAULT 0;
	DECLARE agg, held BIGINT;
	DECLARE k_label VARBINARY(256);
	DECLARE k_cost, k_at, k_expires, k_hour_start, k_hour_end BIGINT;
	DECLARE k_windows VARBINARY(1024);
`)
	each("\tDECLARE c{i}_start, c{i}_end, c{i}_used, u{i}, s{i}, e{i} BIGINT;\n\tDECLARE c{i}_fired, f{i} INT;\n")
	w(`	DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
	IF @@SESSION.innodb_lock_wait_timeout <> p_lock_wait THEN
		SET SESSION innodb_lock_wait_timeout = p_lock_wait;
	END IF;
	SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
	START TRANSACTION;
	IF p_cost > 0 OR p_key IS NOT NULL THEN
		-- The client's lock: its row, locked, or created (and locked) on its
		-- first charge.
		SELECT 1 INTO held FROM {t}clients WHERE client = p_client FOR UPDATE;
		IF held IS NULL THEN
			INSERT INTO {t}clients (client) VALUES (p_client) ON DUPLICATE KEY UPDATE client = client;
		END IF;
	END IF;
	IF p_key IS NOT NULL THEN
		SELECT label, cost, at_ns, expires_ns, hour_start, hour_end, windows
			INTO k_label, k_cost, k_at, k_expires, k_hour_start, k_hour_end, k_windows
			FROM {t}keys WHERE client = p_client AND idem_key = p_key;
		IF k_expires > p_at THEN
			COMMIT;
			SELECT IF(k_cost = p_cost AND k_label = p_label, 2, 3), '', 0, 0,
				k_label, k_cost, k_at, k_expires, k_hour_start, k_hour_end, k_windows;
			LEAVE proc;
		END IF;
	END IF;
	SET v_ok = TRUE;
`)
	// A counter of a later window than the op's counts (the op's window
	// has ended); one of an earlier window does not.
	each(`	IF p_n > {i} THEN
		SELECT start_ns, end_ns, used, fired INTO c{i}_start, c{i}_end, c{i}_used, c{i}_fired
			FROM {t}windows WHERE client = p_client AND period = p{i}_period;
		SET u{i} = IF(c{i}_start IS NOT NULL AND p{i}_start <= c{i}_start, c{i}_used, 0);
		IF NOT (p_cost = 0 OR p{i}_limit < 0 OR u{i} <= p{i}_limit - p_cost) THEN
			SET v_ok = FALSE;
		END IF;
		IF u{i} > 9223372036854775807 - p_cost THEN
			SET v_ok = FALSE, v_over = TRUE;
		END IF;
	END IF;
`)
	w(`	IF v_ok AND p_cost > 0 THEN
		SELECT used INTO agg FROM {t}usage
			WHERE client = p_client AND hour_start = p_hour_start AND label = p_label;
		IF agg > 9223372036854775807 - p_cost THEN
			SET v_ok = FALSE, v_over = TRUE;
		END IF;
	END IF;
	IF NOT v_ok THEN
		COMMIT;
		SELECT IF(v_over, 4, 0), CONCAT_WS(',', u0, u1, u2, u3, u4, u5, u6), 0, 0,
			NULL, NULL, NULL, NULL, NULL, NULL, NULL;
		LEAVE proc;
	END IF;
	IF p_cost > 0 THEN
`)
	each(`		IF p_n > {i} THEN
			IF c{i}_start IS NULL OR p{i}_start > c{i}_start THEN
				IF c{i}_fired <> 0 THEN
					SET v_reset = v_reset | (1 << {i});
				END IF;
				SET u{i} = p_cost, f{i} = 0, s{i} = p{i}_start, e{i} = p{i}_end;
			ELSE
				SET u{i} = c{i}_used + p_cost, f{i} = c{i}_fired, s{i} = c{i}_start, e{i} = c{i}_end;
			END IF;
			SET bits = (IF(p{i}_l0 > 0 AND u{i} >= p{i}_l0, 1, 0) | IF(p{i}_l1 > 0 AND u{i} >= p{i}_l1, 2, 0)
				| IF(p{i}_l2 > 0 AND u{i} >= p{i}_l2, 4, 0) | IF(p{i}_l3 > 0 AND u{i} >= p{i}_l3, 8, 0)) & (15 ^ f{i});
			SET f{i} = f{i} | bits, v_fired = v_fired | (bits << (4 * {i}));
			IF c{i}_start IS NULL THEN
				INSERT INTO {t}windows (client, period, start_ns, end_ns, used, fired)
					VALUES (p_client, p{i}_period, s{i}, e{i}, u{i}, f{i});
			ELSE
				UPDATE {t}windows SET start_ns = s{i}, end_ns = e{i}, used = u{i}, fired = f{i}
					WHERE client = p_client AND period = p{i}_period;
			END IF;
		END IF;
`)
	w(`		INSERT INTO {t}usage (client, hour_start, label, hour_end, used)
			VALUES (p_client, p_hour_start, p_label, p_hour_end, p_cost)
			ON DUPLICATE KEY UPDATE used = used + p_cost;
		-- The client's first charge of an hour drops a few of its
		-- aggregates past the retention; Prune removes the rest.
		IF agg IS NULL AND p_cutoff IS NOT NULL THEN
			DELETE FROM {t}usage WHERE client = p_client AND hour_start < p_cutoff LIMIT 16;
		END IF;
	END IF;
	IF p_key IS NOT NULL THEN
		SET k_windows = CONCAT(''`)
	each(", IF(p_n > {i}, CONCAT(p{i}_period, ',', p{i}_start, ',', p{i}_end, ',', p{i}_limit, ',', u{i}, ';'), '')")
	w(`);
		INSERT INTO {t}keys (client, idem_key, label, cost, at_ns, expires_ns, hour_start, hour_end, windows)
			VALUES (p_client, p_key, p_label, p_cost, p_at, p_key_expires, p_hour_start, p_hour_end, k_windows)
			ON DUPLICATE KEY UPDATE label = p_label, cost = p_cost, at_ns = p_at, expires_ns = p_key_expires,
				hour_start = p_hour_start, hour_end = p_hour_end, windows = k_windows;
	END IF;
	COMMIT;
	SELECT 1, CONCAT_WS(',', u0, u1, u2, u3, u4, u5, u6), v_fired, v_reset, NULL, NULL, NULL, NULL, NULL, NULL, NULL;
END`)
	return b.String()
}
