module github.com/frappy-go/apibilling/stores/mysql

go 1.24.0

require (
	github.com/frappy-go/apibilling v0.4.0
	github.com/go-sql-driver/mysql v1.10.2
)

require filippo.io/edwards25519 v1.2.0 // indirect

replace github.com/frappy-go/apibilling => ../..
