package mysql

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

// windowLen is the length of one window in the deduct procedure's
// p_windows argument: the period (one digit), then the start, end, limit
// and four alert levels, each a signed decimal of 20 characters ("%020d").
const windowLen = 1 + 7*20

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
	{procDeduct, `CREATE PROCEDURE {t}` + procDeduct + `(
	IN p_client VARBINARY(256), IN p_label VARBINARY(256), IN p_cost BIGINT,
	IN p_hour_start BIGINT, IN p_hour_end BIGINT, IN p_at BIGINT,
	IN p_key VARBINARY(255), IN p_key_expires BIGINT,
	IN p_n INT, IN p_windows VARBINARY(1000), IN p_cutoff BIGINT, IN p_lock_wait INT)
proc: BEGIN
	-- Result: status (0 refused, 1 admitted, 2 replayed, 3 key conflict,
	-- 4 refused on overflow), the windows' usage ("u0,u1,..."), the
	-- threshold bits set (4 per window, window i at bit 4i), the windows
	-- whose ended counter had bits set (bit i), and the key record of a
	-- replay or conflict.
	DECLARE i, j, w_period, c_fired, n_fired, bits INT DEFAULT 0;
	DECLARE w_start, w_end, w_limit, lv, u, n_start, n_end BIGINT;
	DECLARE c_start, c_end, c_used, agg BIGINT;
	DECLARE v_ok, v_over BOOLEAN DEFAULT FALSE;
	DECLARE v_used VARCHAR(200) DEFAULT '';
	DECLARE v_rec VARBINARY(1024) DEFAULT '';
	DECLARE v_fired BIGINT DEFAULT 0;
	DECLARE v_reset INT DEFAULT 0;
	DECLARE k_label VARBINARY(256);
	DECLARE k_cost, k_at, k_expires, k_hour_start, k_hour_end BIGINT;
	DECLARE k_windows VARBINARY(1024);
	DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
	SET SESSION innodb_lock_wait_timeout = p_lock_wait;
	SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
	START TRANSACTION;
	IF p_cost > 0 OR p_key IS NOT NULL THEN
		INSERT INTO {t}clients (client) VALUES (p_client) ON DUPLICATE KEY UPDATE client = client;
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
	WHILE i < p_n DO
		SET w_period = CAST(SUBSTRING(p_windows, i * 141 + 1, 1) AS SIGNED),
			w_start = CAST(SUBSTRING(p_windows, i * 141 + 2, 20) AS SIGNED),
			w_end = CAST(SUBSTRING(p_windows, i * 141 + 22, 20) AS SIGNED),
			w_limit = CAST(SUBSTRING(p_windows, i * 141 + 42, 20) AS SIGNED),
			c_start = NULL, c_used = NULL;
		SELECT start_ns, used INTO c_start, c_used FROM {t}windows WHERE client = p_client AND period = w_period;
		-- A counter of a later window than the op's counts (the op's
		-- window has ended); one of an earlier window does not.
		SET u = IF(c_start IS NOT NULL AND w_start <= c_start, c_used, 0);
		SET v_used = CONCAT(v_used, u, ','),
			v_rec = CONCAT(v_rec, w_period, ',', w_start, ',', w_end, ',', w_limit, ',', u, ';');
		IF NOT (p_cost = 0 OR w_limit < 0 OR u <= w_limit - p_cost) THEN
			SET v_ok = FALSE;
		END IF;
		IF u > 9223372036854775807 - p_cost THEN
			SET v_ok = FALSE, v_over = TRUE;
		END IF;
		SET i = i + 1;
	END WHILE;
	IF v_ok AND p_cost > 0 THEN
		SELECT used INTO agg FROM {t}usage
			WHERE client = p_client AND hour_start = p_hour_start AND label = p_label;
		IF agg > 9223372036854775807 - p_cost THEN
			SET v_ok = FALSE, v_over = TRUE;
		END IF;
	END IF;
	IF NOT v_ok THEN
		COMMIT;
		SELECT IF(v_over, 4, 0), v_used, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL;
		LEAVE proc;
	END IF;
	IF p_cost > 0 THEN
		SET i = 0, v_used = '', v_rec = '';
		WHILE i < p_n DO
			SET w_period = CAST(SUBSTRING(p_windows, i * 141 + 1, 1) AS SIGNED),
				w_start = CAST(SUBSTRING(p_windows, i * 141 + 2, 20) AS SIGNED),
				w_end = CAST(SUBSTRING(p_windows, i * 141 + 22, 20) AS SIGNED),
				w_limit = CAST(SUBSTRING(p_windows, i * 141 + 42, 20) AS SIGNED),
				c_start = NULL, c_end = NULL, c_used = NULL, c_fired = NULL;
			SELECT start_ns, end_ns, used, fired INTO c_start, c_end, c_used, c_fired
				FROM {t}windows WHERE client = p_client AND period = w_period;
			IF c_start IS NULL OR w_start > c_start THEN
				IF c_fired <> 0 THEN
					SET v_reset = v_reset | (1 << i);
				END IF;
				SET n_start = w_start, n_end = w_end, u = p_cost, n_fired = 0;
			ELSE
				SET n_start = c_start, n_end = c_end, u = c_used + p_cost, n_fired = c_fired;
			END IF;
			SET bits = 0, j = 0;
			WHILE j < 4 DO
				SET lv = CAST(SUBSTRING(p_windows, i * 141 + 62 + j * 20, 20) AS SIGNED);
				IF lv > 0 AND u >= lv AND (n_fired & (1 << j)) = 0 THEN
					SET bits = bits | (1 << j);
				END IF;
				SET j = j + 1;
			END WHILE;
			SET n_fired = n_fired | bits, v_fired = v_fired | (bits << (4 * i));
			IF c_start IS NULL THEN
				INSERT INTO {t}windows (client, period, start_ns, end_ns, used, fired)
					VALUES (p_client, w_period, n_start, n_end, u, n_fired);
			ELSE
				UPDATE {t}windows SET start_ns = n_start, end_ns = n_end, used = u, fired = n_fired
					WHERE client = p_client AND period = w_period;
			END IF;
			SET v_used = CONCAT(v_used, u, ','),
				v_rec = CONCAT(v_rec, w_period, ',', w_start, ',', w_end, ',', w_limit, ',', u, ';');
			SET i = i + 1;
		END WHILE;
		INSERT INTO {t}usage (client, hour_start, label, hour_end, used)
			VALUES (p_client, p_hour_start, p_label, p_hour_end, p_cost)
			ON DUPLICATE KEY UPDATE used = used + p_cost;
		-- The client's first charge of an hour drops a few of its
		-- aggregates past the retention; Prune removes the rest.
		IF agg IS NULL AND p_cutoff IS NOT NULL THEN
			DELETE FROM {t}usage WHERE client = p_client AND hour_start < p_cutoff LIMIT 16;
		END IF;
	END IF;
	IF p_key IS NOT NULL THEN
		INSERT INTO {t}keys (client, idem_key, label, cost, at_ns, expires_ns, hour_start, hour_end, windows)
			VALUES (p_client, p_key, p_label, p_cost, p_at, p_key_expires, p_hour_start, p_hour_end, v_rec)
			ON DUPLICATE KEY UPDATE label = p_label, cost = p_cost, at_ns = p_at, expires_ns = p_key_expires,
				hour_start = p_hour_start, hour_end = p_hour_end, windows = v_rec;
	END IF;
	COMMIT;
	SELECT 1, v_used, v_fired, v_reset, NULL, NULL, NULL, NULL, NULL, NULL, NULL;
END`},

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
