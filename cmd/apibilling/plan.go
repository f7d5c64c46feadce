package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/frappy-go/apibilling/core"
)

// An import into a store is one of three kinds, which the command decides
// before writing anything, so that an interrupted import can be run again
// safely:
//
//   - copy: the target is empty; records are written as they are, under
//     the copy ID. Interrupted, the target holds part of the records and
//     the ID (core.ImportOptions), and the same command resumes: records
//     are written as they are again, which is exact.
//   - resume: the target is not empty but holds the copy ID: an earlier run
//     of the same import was interrupted. It is run again as a copy.
//   - merge (-merge): the target holds state of its own; records are merged
//     into it (core.MergeWindow, core.MergeUsage), under the merge ID.
//     Merging is not idempotent (credits add up), so a merge interrupted
//     half-way cannot be finished exactly: the next run finds the merge ID
//     in the target and refuses, asking for the target's backup.
type planKind int

const (
	planCopy planKind = iota
	planResume
	planMerge
)

func (p planKind) String() string {
	switch p {
	case planCopy:
		return "copy"
	case planResume:
		return "resume"
	}
	return "merge"
}

// plan is how an import writes.
type plan struct {
	kind planKind
	id   string // the import ID to write under
}

func (p plan) options() core.ImportOptions {
	return core.ImportOptions{Merge: p.kind == planMerge, ID: p.id}
}

// errProbe ends a probing import before it reads any record.
var errProbe = errors.New("apibilling: probe")

// probe asks s whether it would start an import of ID id without merging:
// true if s is empty or holds an unfinished import of id, false if it
// refuses with core.ErrNotEmpty. Nothing is written but the ID, which an
// empty store records (and which the import that follows uses).
func probe(ctx context.Context, s core.Store, id string) (bool, error) {
	err := s.Import(ctx, func() (*core.Record, error) { return nil, errProbe }, core.ImportOptions{ID: id})
	switch {
	case errors.Is(err, errProbe):
		return true, nil
	case errors.Is(err, core.ErrNotEmpty):
		return false, nil
	case err == nil:
		return false, errors.New("the store finished an import without reading a record (it does not follow the store contract)")
	}
	return false, err
}

// isEmpty reports whether s exports no record.
func isEmpty(ctx context.Context, s core.Store) (bool, error) {
	empty := true
	err := s.Export(ctx, func(*core.Record) error {
		empty = false
		return errEnough
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	return empty, err
}

// errNotEmpty and errMergeInterrupted are the refusals of planImport.
var (
	errNotEmpty         = errors.New("the target is not empty")
	errMergeInterrupted = errors.New("the target holds an interrupted merge")
)

// planImport decides how to import into s (see planKind). copyID and
// mergeID name the import: the same for every run of the same import.
func planImport(ctx context.Context, s core.Store, copyID, mergeID string, merge bool) (plan, error) {
	empty, err := isEmpty(ctx, s)
	if err != nil {
		return plan{}, fmt.Errorf("reading the target: %w", err)
	}
	ok, err := probe(ctx, s, copyID)
	if err != nil {
		return plan{}, fmt.Errorf("preparing the import: %w", err)
	}
	if ok {
		if empty {
			return plan{planCopy, copyID}, nil
		}
		return plan{planResume, copyID}, nil
	}
	if !merge {
		return plan{}, errNotEmpty
	}
	interrupted, err := probe(ctx, s, mergeID)
	if err != nil {
		return plan{}, fmt.Errorf("preparing the import: %w", err)
	}
	if interrupted {
		return plan{}, errMergeInterrupted
	}
	return plan{planMerge, mergeID}, nil
}
