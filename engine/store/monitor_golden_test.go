package store

import (
	"encoding/hex"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
)

// monitorGolden is a Monitor record as written before its state had a struct
// of its own: the encoding must not change, or stored monitors would no longer
// read back.
const monitorGolden = "b101500191d5c87a3e7000800000000000000102500191d5c87a3e7000800000000000000203581d7b2275726c223a2268747470733a2f2f6578616d706c652e636f6d227d0474323032362d31312d32335431323a30303a30305a0574323032362d31312d32335431323a30303a30305a06f61464646f776e1574323032362d31312d32335431323a30303a30305a1674323032362d31312d32335431323a30303a30315a17f6181874323032362d31312d32335431323a30303a30335a181974323032362d31312d32335431323a30303a30325a181a74323032362d31312d32335431323a30313a30305a181b01181c6772656675736564181d182a181e6774696d656f7574"

func TestMonitorEncodingStable(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	m := Monitor{ID: uuid.MustParse("0191d5c8-7a3e-7000-8000-000000000001"), ProjectID: uuid.MustParse("0191d5c8-7a3e-7000-8000-000000000002"),
		Attrs: []byte(`{"url":"https://example.com"}`), Created: at, Updated: at}
	m.Status, m.Since, m.FailingSince, m.LastProbe, m.Next, m.Wake = "down", at, at.Add(time.Second), at.Add(2*time.Second), at.Add(time.Minute), 1
	m.LastError, m.NResponses, m.IncidentSince, m.IncidentCause = "refused", 42, at.Add(3*time.Second), "timeout"
	b, err := notifyEncMode.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b); got != monitorGolden {
		t.Errorf("encoding changed:\n got %s\nwant %s", got, monitorGolden)
	}
	raw, err := hex.DecodeString(monitorGolden)
	if err != nil {
		t.Fatal(err)
	}
	var back Monitor
	if err := decMode.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Errorf("decoded %+v\nwant %+v", back, m)
	}
}
