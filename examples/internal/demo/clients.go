package demo

import (
	_ "embed"

	"github.com/frappy-go/apibilling/clientsfile"
)

// DemoClients is the built-in clients file: client1 (key demo-key-1) with
// 500 credits a day and 10,000 a month, and client2 (key demo-key-2) with
// 10 credits a minute and unlimited credits a day, whose day runs from
// midnight to midnight at UTC+10.
//
//go:embed clients.json
var DemoClients []byte

// LoadClients reads the clients file at path, or the built-in
// [DemoClients] when path is empty.
func LoadClients(path string) (*clientsfile.File, error) {
	if path == "" {
		return clientsfile.Parse(DemoClients)
	}
	return clientsfile.Load(path)
}
