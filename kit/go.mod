module github.com/frappy-go/apibilling/kit

go 1.25.0

require (
	github.com/frappy-go/apibilling v0.4.0
	github.com/frappy-go/apibilling/metrics/prometheus v0.4.0
	github.com/frappy-go/apibilling/stores/bolt v0.4.0
	github.com/frappy-go/apibilling/storeurl v0.4.0
	github.com/prometheus/client_golang v1.23.2
)

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/frappy-go/apibilling/stores/mongo v0.4.0 // indirect
	github.com/frappy-go/apibilling/stores/mysql v0.4.0 // indirect
	github.com/frappy-go/apibilling/stores/postgres v0.4.0 // indirect
	github.com/frappy-go/apibilling/stores/redis v0.4.0 // indirect
	github.com/go-sql-driver/mysql v1.10.2 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/pgx/v5 v5.13.0 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/prometheus/client_model v0.6.2 // indirect
	github.com/prometheus/common v0.66.1 // indirect
	github.com/prometheus/procfs v0.16.1 // indirect
	github.com/redis/go-redis/v9 v9.22.0 // indirect
	github.com/xdg-go/scram v1.4.0 // indirect
	github.com/xdg-go/stringprep v1.0.4 // indirect
	github.com/youmark/pkcs8 v0.0.0-20240726163527-a2c0da244d78 // indirect
	go.etcd.io/bbolt v1.5.0 // indirect
	go.mongodb.org/mongo-driver/v2 v2.10.0 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	go.yaml.in/yaml/v2 v2.4.2 // indirect
	golang.org/x/crypto v0.54.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/text v0.41.0 // indirect
	google.golang.org/protobuf v1.36.8 // indirect
)

replace github.com/frappy-go/apibilling => ..

replace github.com/frappy-go/apibilling/metrics/prometheus => ../metrics/prometheus

replace github.com/frappy-go/apibilling/storeurl => ../storeurl

replace github.com/frappy-go/apibilling/stores/bolt => ../stores/bolt

replace github.com/frappy-go/apibilling/stores/mysql => ../stores/mysql

replace github.com/frappy-go/apibilling/stores/postgres => ../stores/postgres

replace github.com/frappy-go/apibilling/stores/redis => ../stores/redis

replace github.com/frappy-go/apibilling/stores/mongo => ../stores/mongo
