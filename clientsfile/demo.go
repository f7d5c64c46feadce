package clientsfile

import (
	"bytes"
	_ "embed"
)

//go:embed demo.json
var demo []byte

// DemoJSON returns the clients file of the example applications, as in the
// project README: client1 (key demo-key-1) with 500 credits a day and
// 10,000 a month, and client2 (key demo-key-2) with 10 credits a minute and
// unlimited credits a day, whose day runs from midnight to midnight at
// UTC+10. The keys are public: use it for demos and tests only.
func DemoJSON() []byte { return bytes.Clone(demo) }

// Demo returns [DemoJSON] parsed.
func Demo() *File {
	f, err := Parse(demo)
	if err != nil {
		panic("clientsfile: the demo file is invalid: " + err.Error()) // tested
	}
	return f
}

// LoadOrDemo reads the clients file at path, as [Load] does, or returns
// [Demo] when path is empty: what an application's -clients flag wants.
func LoadOrDemo(path string) (*File, error) {
	if path == "" {
		return Demo(), nil
	}
	return Load(path)
}
