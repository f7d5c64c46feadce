module github.com/frappy-go/apibilling/stores/bolt

go 1.25.0

require (
	github.com/frappy-go/apibilling v0.4.0
	go.etcd.io/bbolt v1.5.0
)

require golang.org/x/sys v0.45.0 // indirect

replace github.com/frappy-go/apibilling => ../..
