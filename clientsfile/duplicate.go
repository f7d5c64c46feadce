package clientsfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// bom is the UTF-8 byte-order mark some editors write at the start of a
// file. Parse skips it.
var bom = []byte("\xef\xbb\xbf")

// duplicateMember finds the first JSON object of data that repeats a
// member name, which encoding/json would silently take the last of: a
// limit given twice, or two IDs. It returns where the object is, as the
// path of member names and array indexes from the top, and the repeated
// name; ok is false when no object repeats a member (or data is not
// valid JSON, which decoding reports).
func duplicateMember(data []byte) (path []any, member string, ok bool) {
	type frame struct {
		obj     bool
		names   map[string]struct{}
		wantKey bool
		key     string
		n       int
	}
	var stack []*frame
	// consumed marks the end of a value in the enclosing frame.
	consumed := func() {
		if len(stack) == 0 {
			return
		}
		f := stack[len(stack)-1]
		if f.obj {
			f.wantKey = true
		} else {
			f.n++
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, "", false
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, &frame{obj: true, names: map[string]struct{}{}, wantKey: true})
			case '[':
				stack = append(stack, &frame{})
			default:
				stack = stack[:len(stack)-1]
				consumed()
			}
		case string:
			if f := top(stack); f != nil && f.obj && f.wantKey {
				if _, dup := f.names[t]; dup {
					for _, g := range stack[:len(stack)-1] {
						if g.obj {
							path = append(path, g.key)
						} else {
							path = append(path, g.n)
						}
					}
					return path, t, true
				}
				f.names[t] = struct{}{}
				f.key, f.wantKey = t, false
				continue
			}
			consumed()
		default:
			consumed()
		}
		if len(stack) == 0 {
			return nil, "", false
		}
	}
}

func top[F any](stack []*F) *F {
	if len(stack) == 0 {
		return nil
	}
	return stack[len(stack)-1]
}

// duplicateError describes a repeated member at path: within a client when
// the path starts with "clients", index.
func duplicateError(data []byte, path []any, member string) *Error {
	why := fmt.Errorf("the member %q appears twice; a JSON object must name each member once", member)
	if len(path) >= 2 && path[0] == "clients" {
		i, _ := path[1].(int)
		e := &Error{Index: i, Field: fieldPath(path[2:], member), Err: why}
		if member != "id" {
			e.ID = clientID(data, i)
		}
		return e
	}
	return &Error{Index: -1, Field: fieldPath(path, member), Err: why}
}

// fieldPath writes a path such as quotas[0].limit.
func fieldPath(path []any, member string) string {
	var b strings.Builder
	for _, p := range path {
		switch p := p.(type) {
		case int:
			b.WriteString("[" + strconv.Itoa(p) + "]")
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(p)
		}
	}
	if b.Len() > 0 {
		b.WriteByte('.')
	}
	b.WriteString(member)
	return b.String()
}

// clientID returns the "id" of the i-th client of data, if it can be read.
func clientID(data []byte, i int) string {
	var top struct {
		Clients []struct {
			ID string `json:"id"`
		} `json:"clients"`
	}
	if json.Unmarshal(data, &top) != nil || i >= len(top.Clients) {
		return ""
	}
	return top.Clients[i].ID
}
