// Package demo is the framework-neutral part of the example applications
// examples/gin, examples/echo and examples/fiber: their flags, the built-in
// demo clients, opening the store, the cost of /api/compute, the JSON
// bodies, and serving with a graceful shutdown. Each application's main.go
// holds only its framework's wiring, so the three answer identically.
//
//	func main() {
//		demo.Main("examples/gin", func(app *demo.App) (demo.Server, error) {
//			r := gin.New()
//			... // routes, billed with ginbilling
//			return &http.Server{Handler: r, ReadHeaderTimeout: demo.ReadHeaderTimeout}, nil
//		})
//	}
package demo
