package store

import (
	"reflect"
	"slices"
	"testing"

	"github.com/google/uuid"
)

func TestDialectIndexes(t *testing.T) {
	s := openT(t, Options{})
	p, q := uuid.New(), uuid.New()
	c := testCheck(p, 1)
	other := testCheck(p, 2)
	other.Name = c.Name // names may repeat
	commitT(t, s, func(b *Batch) { b.PutCheck(nil, c); b.PutCheck(nil, other) })

	byName := func(project uuid.UUID, name string) []uuid.UUID {
		t.Helper()
		ids, err := s.ChecksByName(project, name)
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	byNumber := func(project uuid.UUID, id uuid.UUID) []uuid.UUID {
		t.Helper()
		ids, err := s.ChecksByNumber(project, CheckNumber(id))
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	want := []uuid.UUID{c.ID, other.ID}
	slices.SortFunc(want, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	if got := byName(p, c.Name); !reflect.DeepEqual(got, want) {
		t.Fatalf("by name: %v, want %v", got, want)
	}
	if got := byNumber(p, c.ID); !reflect.DeepEqual(got, []uuid.UUID{c.ID}) {
		t.Fatalf("by number: %v", got)
	}
	// A name that only starts like another is not it; another project has neither.
	if got := byName(p, c.Name[:3]); len(got) != 0 {
		t.Fatalf("prefix of a name: %v", got)
	}
	if got := byName(q, c.Name); len(got) != 0 || len(byNumber(q, c.ID)) != 0 {
		t.Fatalf("other project: %v", got)
	}

	// Rename: the old entry goes in the same batch.
	renamed := *c
	renamed.Name = "renamed"
	commitT(t, s, func(b *Batch) { b.PutCheck(c, &renamed) })
	if got := byName(p, c.Name); !reflect.DeepEqual(got, []uuid.UUID{other.ID}) {
		t.Fatalf("old name after rename: %v", got)
	}
	if got := byName(p, "renamed"); !reflect.DeepEqual(got, []uuid.UUID{c.ID}) {
		t.Fatalf("new name: %v", got)
	}
	// Move to another project: both entries move.
	moved := renamed
	moved.ProjectID = q
	commitT(t, s, func(b *Batch) { b.PutCheck(&renamed, &moved) })
	if len(byName(p, "renamed")) != 0 || len(byNumber(p, c.ID)) != 0 {
		t.Fatal("entries left in the old project")
	}
	if len(byName(q, "renamed")) != 1 || len(byNumber(q, c.ID)) != 1 {
		t.Fatal("entries missing in the new project")
	}
	// Delete a check, then a project: nothing left.
	if err := s.DeleteCheck(&moved); err != nil {
		t.Fatal(err)
	}
	if len(byName(q, "renamed")) != 0 || len(byNumber(q, c.ID)) != 0 {
		t.Fatal("entries left after DeleteCheck")
	}
	if err := s.DeleteProject(p); err != nil {
		t.Fatal(err)
	}
	if len(byName(p, other.Name)) != 0 || len(byNumber(p, other.ID)) != 0 {
		t.Fatal("entries left after DeleteProject")
	}
	// No name, no name entry.
	anon := testCheck(p, 3)
	anon.Name = ""
	commitT(t, s, func(b *Batch) { b.PutCheck(nil, anon) })
	if ids, _ := s.ChecksByName(p, ""); len(ids) != 0 {
		t.Fatalf("empty name: %v", ids)
	}
}

func TestDialectAttrs(t *testing.T) {
	c := testCheck(uuid.New(), 1)
	yes, wait := true, int64(180)
	c.Dialect = &DialectAttrs{
		IntervalUnit: "hours", OwnerTeamName: "ops", AlertTags: []string{"a", "b"}, AlertPriority: "P2",
		Call: true, Email: &yes, TeamWait: &wait, PolicyID: "7", UpdatedAt: 42, PausedAt: 41,
	}
	data, err := EncodeCheck(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeCheck(data)
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip: %v\n got %+v\nwant %+v", err, got.Dialect, c.Dialect)
	}
	// A clone shares nothing a change could reach.
	d := c.Dialect.Clone()
	d.AlertTags[0], *d.Email, *d.TeamWait = "x", false, 1
	if c.Dialect.AlertTags[0] != "a" || !*c.Dialect.Email || *c.Dialect.TeamWait != 180 {
		t.Fatalf("clone shares state: %+v", c.Dialect)
	}
	if (*DialectAttrs)(nil).Clone() == nil {
		t.Fatal("clone of nil")
	}
	// Numbers are positive and exact in a JSON number.
	for range 1000 {
		if n := CheckNumber(uuid.New()); n < 1 || n >= 1<<53 {
			t.Fatalf("number %d out of range", n)
		}
	}
}
