// Package web holds the apibilling dashboard, built from the React
// components of this folder (npm run build) into dist/, which is committed:
// Go users need no Node.js. CI rebuilds dist/ from the source and the
// lockfile and fails if it differs. The usage API (package usageapi)
// serves it.
package web

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// Dashboard returns the dashboard's files: index.html, favicon.svg and
// assets/.
func Dashboard() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // dist is embedded at build time
	}
	return sub
}
