module github.com/frappy-go/apibilling/adapters/nethttp/routers

go 1.24.0

require (
	github.com/frappy-go/apibilling v0.4.0
	github.com/go-chi/chi/v5 v5.5.0
	github.com/gorilla/mux v1.8.1
)

replace github.com/frappy-go/apibilling => ../../..
