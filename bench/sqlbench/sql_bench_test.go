package sqlbench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/bench/internal/chargerun"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/mysql"
	"github.com/frappy-go/apibilling/stores/postgres"
	gomysql "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// charger charges one credit to client i (0 <= i < clients) and reports
// whether it was admitted.
type charger func(ctx context.Context, i int) (bool, error)

// The windows every variant charges: a day with a limit no run reaches and
// an unlimited month, with the usage reported per hour.
var (
	now       = time.Now().UTC()
	dayStart  = now.Truncate(24 * time.Hour)
	monthStrt = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	hourStart = now.Truncate(time.Hour)
)

func clientIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "client-" + strconv.Itoa(i)
	}
	return ids
}

func quotas() []core.Quota {
	return []core.Quota{{Period: core.Day, Limit: core.MaxCredits}, {Period: core.Month, Limit: core.Unlimited}}
}

// billing returns a charger through core.Billing on s, whose clients have
// the quotas above.
func billing(b *testing.B, s core.Store, clients int) charger {
	bill := core.New(s)
	ids := clientIDs(clients)
	for _, id := range ids {
		if err := bill.SetQuotas(id, quotas()...); err != nil {
			b.Fatal(err)
		}
	}
	return func(ctx context.Context, i int) (bool, error) {
		out, err := bill.Track(ctx, ids[i], core.Whole(1))
		return out.Allowed(), err
	}
}

var seq atomic.Int64

func skipOrFail(b *testing.B, what string, err error) {
	if os.Getenv("APIBILLING_REQUIRE_SERVICES") == "1" {
		b.Fatalf("no %s: %v", what, err)
	}
	b.Skipf("\n\n*** SKIPPED: no %s (%v). ***\n\n", what, err)
}

// pgPool returns a pool of conns connections to the test PostgreSQL.
func pgPool(b *testing.B, conns int) *pgxpool.Pool {
	url := os.Getenv("APIBILLING_POSTGRES_URL")
	if url == "" {
		url = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = int32(conns)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err == nil {
		err = pool.Ping(context.Background())
	}
	if err != nil {
		skipOrFail(b, "PostgreSQL", err)
	}
	b.Cleanup(pool.Close)
	return pool
}

// pgStore returns a store in a fresh schema, dropped when b ends.
// noGroup turns the store's group commit off.
func pgStore(b *testing.B, pool *pgxpool.Pool, noGroup bool) *postgres.Store {
	schema := fmt.Sprintf("apibilling_bench_%d_%d", os.Getpid(), seq.Add(1))
	s, err := postgres.New(context.Background(), pool, &postgres.Options{Schema: schema, Timeout: time.Minute, NoGroupCommit: noGroup})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		s.Close()
		pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`)
	})
	return s
}

// pgNaive returns a charger that does the store's work in a hand-written
// transaction of five round trips, on the tables of s.
func pgNaive(b *testing.B, pool *pgxpool.Pool, s *postgres.Store, clients int) charger {
	t := `"` + s.Schema() + `"."` + s.Prefix()
	ids := clientIDs(clients)
	ctx := context.Background()
	for _, id := range ids {
		for _, w := range []struct {
			p          core.Period
			start, end time.Time
		}{{core.Day, dayStart, dayStart.Add(24 * time.Hour)}, {core.Month, monthStrt, monthStrt.AddDate(0, 1, 0)}} {
			if _, err := pool.Exec(ctx, `INSERT INTO `+t+`windows" VALUES ($1, $2, $3, $4, 0, 0)`,
				[]byte(id), int16(w.p), w.start.UnixNano(), w.end.UnixNano()); err != nil {
				b.Fatal(err)
			}
		}
	}
	limit := core.MaxCredits.Micro()
	return func(ctx context.Context, i int) (bool, error) {
		client := []byte(ids[i])
		tx, err := pool.Begin(ctx)
		if err != nil {
			return false, err
		}
		defer tx.Rollback(ctx)
		rows, err := tx.Query(ctx, `SELECT period, used FROM `+t+`windows" WHERE client = $1 ORDER BY period FOR UPDATE`, client)
		if err != nil {
			return false, err
		}
		var p int16
		var used int64
		ok := true
		if _, err := pgx.ForEachRow(rows, []any{&p, &used}, func() error {
			if core.Period(p) == core.Day && used+1_000_000 > limit {
				ok = false
			}
			return nil
		}); err != nil {
			return false, err
		}
		if !ok {
			return false, tx.Commit(ctx)
		}
		if _, err := tx.Exec(ctx, `UPDATE `+t+`windows" SET used = used + 1000000 WHERE client = $1`, client); err != nil {
			return false, err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+t+`usage" VALUES ($1, $2, '', $3, 1000000)
			ON CONFLICT (client, hour_start, label) DO UPDATE SET used = `+t+`usage".used + 1000000`,
			client, hourStart.UnixNano(), hourStart.Add(time.Hour).UnixNano()); err != nil {
			return false, err
		}
		return true, tx.Commit(ctx)
	}
}

// myDB returns a handle of conns connections to the test MySQL.
func myDB(b *testing.B, conns int) *sql.DB {
	dsn := os.Getenv("APIBILLING_MYSQL_DSN")
	if dsn == "" {
		dsn = "root@tcp(127.0.0.1:3306)/test"
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if err := db.Ping(); err != nil {
		db.Close()
		skipOrFail(b, "MySQL", err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// myStore returns a store under a fresh prefix, whose tables are dropped
// when b ends.
func myStore(b *testing.B, db *sql.DB) *mysql.Store {
	prefix := fmt.Sprintf("bench%d_%d_", os.Getpid(), seq.Add(1))
	s, err := mysql.New(context.Background(), db, &mysql.Options{Prefix: prefix, Timeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		s.Close()
		mysql.DropTables(context.Background(), db, &mysql.Options{Prefix: prefix})
	})
	return s
}

// myNaive returns a charger that does the store's work in a hand-written
// transaction of five round trips, on the tables of s: with statements
// prepared once (prepared), or as tx.QueryContext and tx.ExecContext
// send them by default, each prepared, executed and closed (a round trip
// more per statement).
func myNaive(b *testing.B, db *sql.DB, s *mysql.Store, clients int, prepared bool) charger {
	t := "`" + s.Prefix()
	ids := clientIDs(clients)
	ctx := context.Background()
	for _, id := range ids {
		for _, w := range []struct {
			p          core.Period
			start, end time.Time
		}{{core.Day, dayStart, dayStart.Add(24 * time.Hour)}, {core.Month, monthStrt, monthStrt.AddDate(0, 1, 0)}} {
			if _, err := db.ExecContext(ctx, "INSERT INTO "+t+"windows` VALUES (?, ?, ?, ?, 0, 0)",
				id, int(w.p), w.start.UnixNano(), w.end.UnixNano()); err != nil {
				b.Fatal(err)
			}
		}
	}
	sel, err := db.Prepare("SELECT period, used FROM " + t + "windows` WHERE client = ? ORDER BY period FOR UPDATE")
	if err != nil {
		b.Fatal(err)
	}
	upd, err := db.Prepare("UPDATE " + t + "windows` SET used = used + 1000000 WHERE client = ?")
	if err != nil {
		b.Fatal(err)
	}
	ins, err := db.Prepare("INSERT INTO " + t + "usage` VALUES (?, ?, '', ?, 1000000) ON DUPLICATE KEY UPDATE used = used + 1000000")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sel.Close(); upd.Close(); ins.Close() })
	limit := core.MaxCredits.Micro()
	selSQL := "SELECT period, used FROM " + t + "windows` WHERE client = ? ORDER BY period FOR UPDATE"
	updSQL := "UPDATE " + t + "windows` SET used = used + 1000000 WHERE client = ?"
	insSQL := "INSERT INTO " + t + "usage` VALUES (?, ?, '', ?, 1000000) ON DUPLICATE KEY UPDATE used = used + 1000000"
	return func(ctx context.Context, i int) (bool, error) {
		client := ids[i]
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return false, err
		}
		defer tx.Rollback()
		query := func(stmt *sql.Stmt, q string, args ...any) (*sql.Rows, error) {
			if prepared {
				return tx.StmtContext(ctx, stmt).QueryContext(ctx, args...)
			}
			return tx.QueryContext(ctx, q, args...)
		}
		exec := func(stmt *sql.Stmt, q string, args ...any) (sql.Result, error) {
			if prepared {
				return tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
			}
			return tx.ExecContext(ctx, q, args...)
		}
		rows, err := query(sel, selSQL, client)
		if err != nil {
			return false, err
		}
		ok := true
		for rows.Next() {
			var p, used int64
			if err := rows.Scan(&p, &used); err != nil {
				rows.Close()
				return false, err
			}
			if core.Period(p) == core.Day && used+1_000_000 > limit {
				ok = false
			}
		}
		if err := rows.Close(); err != nil {
			return false, err
		}
		if !ok {
			return false, tx.Commit()
		}
		if _, err := exec(upd, updSQL, client); err != nil {
			return false, err
		}
		if _, err := exec(ins, insSQL, client, hourStart.UnixNano(), hourStart.Add(time.Hour).UnixNano()); err != nil {
			return false, err
		}
		return true, tx.Commit()
	}
}

var _ = gomysql.ErrInvalidConn // the driver registers itself

// BenchmarkPostgres charges one credit per operation from 1, 16 and 64
// goroutines, each with a client of its own or all on one client, through
// the store and through the naive transaction, and reports operations per
// second and the 99th percentile latency in microseconds;
// apibilling-nogroup is the store with Options.NoGroupCommit. (pgx prepares
// and caches statements by itself: the naive transaction's statements are
// prepared.)
func BenchmarkPostgres(b *testing.B) {
	each(b, []string{"apibilling", "apibilling-nogroup", "naive"}, func(b *testing.B, g, clients int, impl string) charger {
		pool := pgPool(b, g)
		s := pgStore(b, pool, impl == "apibilling-nogroup")
		if impl == "naive" {
			return pgNaive(b, pool, s, clients)
		}
		return billing(b, s, clients)
	})
}

// BenchmarkMySQL is BenchmarkPostgres on MySQL (MariaDB here), with the
// naive transaction's statements prepared once (naive) or sent as
// database/sql sends a query with arguments by default (naive-unprepared).
func BenchmarkMySQL(b *testing.B) {
	each(b, []string{"apibilling", "naive", "naive-unprepared"}, func(b *testing.B, g, clients int, impl string) charger {
		db := myDB(b, g)
		s := myStore(b, db)
		if impl != "apibilling" {
			return myNaive(b, db, s, clients, impl == "naive")
		}
		return billing(b, s, clients)
	})
}

func each(b *testing.B, impls []string, open func(b *testing.B, g, clients int, impl string) charger) {
	for _, g := range []int{1, 16, 64} {
		for _, shape := range []string{"own", "one"} {
			if g == 1 && shape == "one" {
				continue // the same as own
			}
			for _, impl := range impls {
				b.Run(fmt.Sprintf("goroutines=%d/clients=%s/impl=%s", g, shape, impl), func(b *testing.B) {
					clients := g
					if shape == "one" {
						clients = 1
					}
					charge := open(b, g, clients, impl)
					pick := func(i int) int { return i % clients }
					run(b, charge, g, pick)
				})
			}
		}
	}
}

// run calls charge b.N times from g goroutines (goroutine i charging
// client pick(i)) and reports ops/s and p99.
func run(b *testing.B, charge charger, g int, pick func(int) int) {
	// A few charges from every goroutine first, unmeasured: the store
	// creates a client's rows on its first charge (the naive transaction
	// finds them created), and each connection of the pool is opened, its
	// statements prepared and (PostgreSQL) the functions compiled.
	var warm sync.WaitGroup
	warmErr := make(chan error, g)
	for i := range g {
		warm.Go(func() {
			for range 5 {
				if _, err := charge(context.Background(), pick(i)); err != nil {
					warmErr <- err
					return
				}
			}
		})
	}
	warm.Wait()
	close(warmErr)
	if err := <-warmErr; err != nil {
		b.Fatalf("warming up: %v", err)
	}
	r := chargerun.Run(b, g, func(ctx context.Context, i int) (bool, error) { return charge(ctx, pick(i)) })
	r.Check(b)
	r.Report(b)
}
