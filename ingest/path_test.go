package ingest

import (
	"testing"

	"github.com/vigilo/vigilo/actors/heartbeat"
)

func TestParsePath(t *testing.T) {
	const id = "5bf7ab44-7f3b-4f49-9d3c-1f5ba3ac2e10"
	cases := []struct {
		path      string
		err       string
		uuid      bool
		key, slug string
		kind      heartbeat.EventKind
		exit      int
	}{
		{path: "/ping/" + id, uuid: true, kind: heartbeat.Success, exit: -1},
		{path: "/ping/" + id + "/", uuid: true, kind: heartbeat.Success, exit: -1},
		{path: "/ping/" + id + "/start", uuid: true, kind: heartbeat.Start, exit: -1},
		{path: "/ping/" + id + "/fail", uuid: true, kind: heartbeat.Fail, exit: -1},
		{path: "/ping/" + id + "/log", uuid: true, kind: heartbeat.Log, exit: -1},
		{path: "/ping/" + id + "/0", uuid: true, kind: heartbeat.Success, exit: 0},
		{path: "/ping/" + id + "/255", uuid: true, kind: heartbeat.Fail, exit: 255},
		{path: "/ping/" + id + "/256", err: "invalid url format"},
		{path: "/ping/" + id + "/99999999999999999999", err: "invalid url format"},
		// A uuid-looking ping key with a slug is a slug ping, as in Healthchecks.io's URL order.
		{path: "/ping/" + id + "/nightly", key: id, slug: "nightly", kind: heartbeat.Success, exit: -1},
		{path: "/ping/key_1/db-backup", key: "key_1", slug: "db-backup", kind: heartbeat.Success, exit: -1},
		{path: "/ping/key_1/db-backup/start", key: "key_1", slug: "db-backup", kind: heartbeat.Start, exit: -1},
		{path: "/ping/key_1/db-backup/3", key: "key_1", slug: "db-backup", kind: heartbeat.Fail, exit: 3},
		{path: "/ping/key_1/db-backup/bogus", err: "not found"},
		{path: "/ping/key_1/DB", err: "invalid url format"},
		{path: "/ping/key_1/a.b", err: "invalid url format"},
		{path: "/ping/not-a-uuid", err: "not found"},
		{path: "/ping/", err: "not found"},
		{path: "/ping/a/b/c/d", err: "not found"},
	}
	for _, tc := range cases {
		got, err := parsePath(tc.path)
		if err != tc.err {
			t.Errorf("%s: error %q, want %q", tc.path, err, tc.err)
			continue
		}
		if err != "" {
			continue
		}
		if (got.slug == "") != tc.uuid || got.pingKey != tc.key || got.slug != tc.slug || got.ev.Kind != tc.kind || got.exit != tc.exit {
			t.Errorf("%s: %+v", tc.path, got)
		}
	}
}
