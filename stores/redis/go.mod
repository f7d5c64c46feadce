module github.com/frappy-go/apibilling/stores/redis

go 1.24.0

require (
	github.com/frappy-go/apibilling v0.4.0
	github.com/redis/go-redis/v9 v9.22.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	golang.org/x/sys v0.30.0 // indirect
)

replace github.com/frappy-go/apibilling => ../..
