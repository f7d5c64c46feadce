package memory

import (
	"slices"

	"github.com/frappy-go/apibilling/core"
)

// hour is the usage of one hour, by label: n labels, the first held in
// the hour itself.
type hour struct {
	start, end int64
	n          int
	first      labelUsage
	more       []labelUsage
}

type labelUsage struct {
	label   string
	credits int64
}

// find returns the credits of label in h, or nil.
func (h *hour) find(label string) *int64 {
	if h.n == 0 {
		return nil
	}
	if h.first.label == label {
		return &h.first.credits
	}
	for j := range h.more {
		if h.more[j].label == label {
			return &h.more[j].credits
		}
	}
	return nil
}

// label returns the i-th label of h, for 0 <= i < h.n.
func (h *hour) label(i int) *labelUsage {
	if i == 0 {
		return &h.first
	}
	return &h.more[i-1]
}

// add adds a label that h does not hold; label is the store's own copy.
func (h *hour) add(label string, credits int64) {
	if h.n == 0 {
		h.first = labelUsage{label, credits}
	} else {
		h.more = append(h.more, labelUsage{label, credits})
	}
	h.n++
}

// sum returns the credits of every label of h, capped at core.MaxUsage.
func (h *hour) sum() int64 {
	var s int64
	for i := range h.n {
		s = addCapped(s, h.label(i).credits)
	}
	return s
}

// hourAt returns the client's hour starting at start, or nil. The latest
// hour is tested here, where it is inlined; older hours in oldHourAt.
func (c *client) hourAt(start int64) *hour {
	if c.cur.n > 0 && c.cur.start == start {
		return &c.cur
	}
	return c.oldHourAt(start)
}

// oldHourAt returns the client's hour before its latest starting at start,
// or nil. It is not inlined, so that hourAt is.
//
//go:noinline
func (c *client) oldHourAt(start int64) *hour {
	if i, ok := c.findOld(start); ok {
		return &c.hours[i]
	}
	return nil
}

// findOld returns the position in c.hours of the hour starting at start,
// or where it would be inserted.
func (c *client) findOld(start int64) (int, bool) {
	return slices.BinarySearchFunc(c.hours, start, func(h hour, s int64) int {
		switch {
		case h.start < s:
			return -1
		case h.start > s:
			return 1
		}
		return 0
	})
}

// addHour returns the client's hour b, created if needed. A new latest
// hour drops the hours that started more than retention before it
// (retention 0 keeps them).
func (c *client) addHour(b core.Span, retention int64) *hour {
	if h := c.hourAt(b.Start); h != nil {
		return h
	}
	if c.cur.n == 0 || b.Start > c.cur.start {
		if c.cur.n > 0 {
			c.hours = append(c.hours, c.cur)
		}
		c.cur = hour{start: b.Start, end: b.End}
		if retention > 0 {
			cut := b.Start - retention
			k := 0
			for k < len(c.hours) && c.hours[k].start < cut {
				k++
			}
			c.hours = slices.Delete(c.hours, 0, k)
		}
		return &c.cur
	}
	i, _ := c.findOld(b.Start)
	c.hours = slices.Insert(c.hours, i, hour{start: b.Start, end: b.End})
	return &c.hours[i]
}

// eachHour calls fn with each of the client's hours that start in
// [from, to), oldest first.
func (c *client) eachHour(from, to int64, fn func(h *hour)) {
	i, _ := c.findOld(from)
	for ; i < len(c.hours) && c.hours[i].start < to; i++ {
		fn(&c.hours[i])
	}
	if c.cur.n > 0 && from <= c.cur.start && c.cur.start < to {
		fn(&c.cur)
	}
}

// allHours calls fn with each of the client's hours, oldest first.
func (c *client) allHours(fn func(h *hour)) {
	for i := range c.hours {
		fn(&c.hours[i])
	}
	if c.cur.n > 0 {
		fn(&c.cur)
	}
}

// deleteHours removes the client's hours that start in [from, to), after
// calling fn with each.
func (c *client) deleteHours(from, to int64, fn func(h *hour)) {
	i, _ := c.findOld(from)
	j := i
	for ; j < len(c.hours) && c.hours[j].start < to; j++ {
		fn(&c.hours[j])
	}
	c.hours = slices.Delete(c.hours, i, j)
	if c.cur.n > 0 && from <= c.cur.start && c.cur.start < to {
		fn(&c.cur)
		c.cur = hour{}
		if n := len(c.hours); n > 0 {
			c.cur = c.hours[n-1]
			c.hours[n-1] = hour{}
			c.hours = c.hours[:n-1]
		}
	}
}
