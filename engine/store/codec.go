package store

import (
	"bytes"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/uuid"
)

// On-disk encoding.
//
// Records are CBOR maps keyed by the small integers of the cbor tags in
// records.go. They go through the "wire" mirrors below, which carry the same
// fields under the same tags, except that every time.Time is an int64 of Unix
// nanoseconds (0 = the zero time, omitted when the record's field is
// omitempty). fxamacker/cbor has no nanosecond integer time mode (its Unix
// modes are whole seconds or a float of microsecond precision), and a plain
// integer is both exact and the fastest thing to decode. Times come back in UTC.
//
// UUIDs and key hashes are CBOR byte strings (the encoding.BinaryMarshaler of
// uuid.UUID is deliberately bypassed: it allocates). Strings are not checked
// for valid UTF-8 on decode: a ping's User-Agent is whatever the client sent,
// and a record must never become unreadable because of it.
//
// TestWireMirrorsRecords keeps the mirrors in step with records.go.

var (
	encMode cbor.UserBufferEncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.EncOptions{
		Sort:            cbor.SortNone,
		BinaryMarshaler: cbor.BinaryMarshalerNone,
		TextMarshaler:   cbor.TextMarshalerNone,
		OmitEmpty:       cbor.OmitEmptyGoValue,
	}.UserBufferEncMode()
	if err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		UTF8:              cbor.UTF8DecodeInvalid,
		BinaryUnmarshaler: cbor.BinaryUnmarshalerNone,
		TextUnmarshaler:   cbor.TextUnmarshalerNone,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

type projectWire struct {
	ID              uuid.UUID `cbor:"1,keyasint"`
	Name            string    `cbor:"2,keyasint"`
	Created         int64     `cbor:"3,keyasint"`
	APIKeyHash      [32]byte  `cbor:"4,keyasint"`
	ReadOnlyKeyHash [32]byte  `cbor:"5,keyasint"`
	PingKey         string    `cbor:"6,keyasint"`
}

func (w *projectWire) from(p *Project) {
	*w = projectWire{
		ID:              p.ID,
		Name:            p.Name,
		Created:         nanos(p.Created),
		APIKeyHash:      p.APIKeyHash,
		ReadOnlyKeyHash: p.ReadOnlyKeyHash,
		PingKey:         p.PingKey,
	}
}

func (w *projectWire) to(p *Project) {
	*p = Project{
		ID:              w.ID,
		Name:            w.Name,
		Created:         fromNanos(w.Created),
		APIKeyHash:      w.APIKeyHash,
		ReadOnlyKeyHash: w.ReadOnlyKeyHash,
		PingKey:         w.PingKey,
	}
}

type checkWire struct {
	ID           uuid.UUID     `cbor:"1,keyasint"`
	ProjectID    uuid.UUID     `cbor:"2,keyasint"`
	Name         string        `cbor:"3,keyasint,omitempty"`
	Slug         string        `cbor:"4,keyasint,omitempty"`
	Tags         string        `cbor:"5,keyasint,omitempty"`
	Desc         string        `cbor:"6,keyasint,omitempty"`
	Kind         string        `cbor:"7,keyasint"`
	Timeout      time.Duration `cbor:"8,keyasint"`
	Grace        time.Duration `cbor:"9,keyasint"`
	Schedule     string        `cbor:"10,keyasint,omitempty"`
	TZ           string        `cbor:"11,keyasint,omitempty"`
	ManualResume bool          `cbor:"12,keyasint,omitempty"`
	Channels     string        `cbor:"13,keyasint,omitempty"`
	Created      int64         `cbor:"14,keyasint"`
	Methods      string        `cbor:"15,keyasint,omitempty"`

	Status       string        `cbor:"20,keyasint"`
	LastPing     int64         `cbor:"21,keyasint,omitempty"`
	LastStart    int64         `cbor:"22,keyasint,omitempty"`
	LastStartRID string        `cbor:"23,keyasint,omitempty"`
	LastDuration time.Duration `cbor:"24,keyasint,omitempty"`
	Deadline     int64         `cbor:"25,keyasint,omitempty"`
	NPings       uint64        `cbor:"26,keyasint,omitempty"`
	NoBodyFrom   uint64        `cbor:"27,keyasint,omitempty"`

	Dialect *DialectAttrs `cbor:"40,keyasint,omitempty"`
}

func (w *checkWire) from(c *Check) {
	*w = checkWire{
		ID:           c.ID,
		ProjectID:    c.ProjectID,
		Name:         c.Name,
		Slug:         c.Slug,
		Tags:         c.Tags,
		Desc:         c.Desc,
		Kind:         c.Kind,
		Timeout:      c.Timeout,
		Grace:        c.Grace,
		Schedule:     c.Schedule,
		TZ:           c.TZ,
		ManualResume: c.ManualResume,
		Channels:     c.Channels,
		Created:      nanos(c.Created),
		Methods:      c.Methods,
		Status:       c.Status,
		LastPing:     nanos(c.LastPing),
		LastStart:    nanos(c.LastStart),
		LastStartRID: c.LastStartRID,
		LastDuration: c.LastDuration,
		Deadline:     nanos(c.Deadline),
		NPings:       c.NPings,
		NoBodyFrom:   c.NoBodyFrom,
		Dialect:      c.Dialect,
	}
}

func (w *checkWire) to(c *Check) {
	*c = Check{
		ID:           w.ID,
		ProjectID:    w.ProjectID,
		Name:         w.Name,
		Slug:         w.Slug,
		Tags:         w.Tags,
		Desc:         w.Desc,
		Kind:         intern(w.Kind),
		Timeout:      w.Timeout,
		Grace:        w.Grace,
		Schedule:     w.Schedule,
		TZ:           w.TZ,
		ManualResume: w.ManualResume,
		Channels:     w.Channels,
		Created:      fromNanos(w.Created),
		Methods:      intern(w.Methods),
		Status:       intern(w.Status),
		LastPing:     fromNanos(w.LastPing),
		LastStart:    fromNanos(w.LastStart),
		LastStartRID: w.LastStartRID,
		LastDuration: w.LastDuration,
		Deadline:     fromNanos(w.Deadline),
		NPings:       w.NPings,
		NoBodyFrom:   w.NoBodyFrom,
		Dialect:      w.Dialect,
	}
}

type pingWire struct {
	N          uint64        `cbor:"1,keyasint"`
	Kind       string        `cbor:"2,keyasint"`
	Time       int64         `cbor:"3,keyasint"`
	Scheme     string        `cbor:"4,keyasint,omitempty"`
	RemoteAddr string        `cbor:"5,keyasint,omitempty"`
	Method     string        `cbor:"6,keyasint,omitempty"`
	UA         string        `cbor:"7,keyasint,omitempty"`
	RID        string        `cbor:"8,keyasint,omitempty"`
	ExitStatus int           `cbor:"9,keyasint,omitempty"`
	Duration   time.Duration `cbor:"10,keyasint,omitempty"`
	BodySize   int           `cbor:"11,keyasint,omitempty"`
}

func (w *pingWire) from(p *Ping) {
	*w = pingWire{
		N:          p.N,
		Kind:       p.Kind,
		Time:       nanos(p.Time),
		Scheme:     p.Scheme,
		RemoteAddr: p.RemoteAddr,
		Method:     p.Method,
		UA:         p.UA,
		RID:        p.RID,
		ExitStatus: p.ExitStatus,
		Duration:   p.Duration,
		BodySize:   p.BodySize,
	}
}

func (w *pingWire) to(p *Ping) {
	*p = Ping{
		N:          w.N,
		Kind:       intern(w.Kind),
		Time:       fromNanos(w.Time),
		Scheme:     intern(w.Scheme),
		RemoteAddr: w.RemoteAddr,
		Method:     intern(w.Method),
		UA:         w.UA,
		RID:        w.RID,
		ExitStatus: w.ExitStatus,
		Duration:   w.Duration,
		BodySize:   w.BodySize,
	}
}

type flipWire struct {
	Time int64  `cbor:"1,keyasint"`
	From string `cbor:"2,keyasint"`
	To   string `cbor:"3,keyasint"`
}

func (w *flipWire) from(f *Flip) {
	*w = flipWire{Time: nanos(f.Time), From: f.From, To: f.To}
}

func (w *flipWire) to(f *Flip) {
	*f = Flip{Time: fromNanos(w.Time), From: intern(w.From), To: intern(w.To)}
}

// intern returns a shared copy of the few strings every check and ping repeats
// (kinds, statuses, schemes, methods), so a million resident checks do not
// each hold their own "up" and "simple".
func intern(s string) string {
	if i, ok := interned[s]; ok {
		return i
	}
	return s
}

var interned = func() map[string]string {
	m := map[string]string{}
	for _, s := range []string{
		"", "simple", "cron", // Check.Kind
		"new", "up", "grace", "down", "paused", "started", // Check.Status
		"success", "start", "fail", "log", "ign", // Ping.Kind
		"http", "https", "email", // Ping.Scheme
		"GET", "POST", "HEAD", "PUT", // Ping.Method
	} {
		m[s] = s
	}
	return m
}()

// encodeCheck appends the encoding of c to buf (reset first). w is scratch.
func encodeCheck(buf *bytes.Buffer, w *checkWire, c *Check) error {
	w.from(c)
	buf.Reset()
	if b, ok := appendCheckFast(buf.AvailableBuffer(), w); ok {
		setBuffer(buf, b)
		return nil
	}
	return encMode.MarshalToBuffer(w, buf)
}

// decodeCheck decodes data into c; w is scratch.
func decodeCheck(data []byte, w *checkWire, c *Check) error {
	*w = checkWire{}
	if decodeCheckFast(data, w) {
		w.to(c)
		return nil
	}
	*w = checkWire{}
	if err := decMode.Unmarshal(data, w); err != nil {
		return fmt.Errorf("decode check: %w", err)
	}
	w.to(c)
	return nil
}

// EncodeCheck returns the on-disk encoding of c (for tools and tests).
func EncodeCheck(c *Check) ([]byte, error) {
	var buf bytes.Buffer
	var w checkWire
	if err := encodeCheck(&buf, &w, c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodeCheck decodes the on-disk encoding of a check.
func DecodeCheck(data []byte) (*Check, error) {
	var w checkWire
	c := new(Check)
	if err := decodeCheck(data, &w, c); err != nil {
		return nil, err
	}
	return c, nil
}

func decodeProject(data []byte) (*Project, error) {
	var w projectWire
	if err := decMode.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("decode project: %w", err)
	}
	p := new(Project)
	w.to(p)
	return p, nil
}

func decodePing(data []byte, w *pingWire, p *Ping) error {
	*w = pingWire{}
	if err := decMode.Unmarshal(data, w); err != nil {
		return fmt.Errorf("decode ping: %w", err)
	}
	w.to(p)
	return nil
}

func decodeFlip(data []byte, w *flipWire, f *Flip) error {
	*w = flipWire{}
	if err := decMode.Unmarshal(data, w); err != nil {
		return fmt.Errorf("decode flip: %w", err)
	}
	w.to(f)
	return nil
}
