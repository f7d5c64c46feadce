module github.com/frappy-go/apibilling

go 1.24.0
