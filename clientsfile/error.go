package clientsfile

import (
	"strconv"
	"strings"
)

// Error is the error of a clients file that cannot be used. It names where
// the problem is: the file, the client and the field.
type Error struct {
	// Path is the file's path when it was read by [Load], or empty.
	Path string
	// Index is the client's position in "clients", or -1 when the problem
	// is not within one client (malformed JSON, no clients).
	Index int
	// ID is the client's ID when it is known, or empty.
	ID string
	// Field is the field within the client (or the file when Index is -1),
	// such as "quotas[0].period", or empty.
	Field string
	// Err is the problem itself.
	Err error
}

// Error returns a message such as
// `clientsfile: clients[1] "client2": quotas[0].period: unknown period "dya" (...)`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("clientsfile: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Index >= 0 {
		b.WriteString("clients[")
		b.WriteString(strconv.Itoa(e.Index))
		b.WriteString("]")
		if e.ID != "" {
			b.WriteString(" ")
			b.WriteString(quoteID(e.ID))
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the problem, so that errors.Is finds, for example,
// [core.ErrInvalidClient] or [fs.ErrNotExist].
func (e *Error) Unwrap() error { return e.Err }

// quoteID quotes a client ID for a message, shortened if it is long.
func quoteID(id string) string {
	if len(id) > 64 {
		id = id[:64] + "..."
	}
	return strconv.Quote(id)
}
