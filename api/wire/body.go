package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Object is a JSON object from a request body, read field by field. Each getter
// checks its field's type strictly (a number is not a string, "true" is not a
// boolean) and records a problem under the field's name rather than stopping, so
// one answer can name everything wrong. Unknown fields are ignored, as both
// dialects' services do.
type Object struct {
	fields map[string]json.RawMessage
	// problems is shared with the objects nested in this one, whose fields are
	// named "outer.inner".
	problems *[]FieldProblem
	prefix   string
}

// DecodeObject parses body as a JSON object; an empty body is an empty object (a
// PATCH that changes nothing). A body that is not JSON is BadRequest; JSON that is
// not an object is Invalid.
func DecodeObject(body []byte) (*Object, *Failure) {
	o := &Object{fields: map[string]json.RawMessage{}, problems: new([]FieldProblem)}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return o, nil
	}
	if !json.Valid(body) {
		return nil, Failf(BadRequest, "Request body is not valid JSON")
	}
	if body[0] != '{' || json.Unmarshal(body, &o.fields) != nil {
		return nil, Failf(Invalid, "Request body must be a JSON object")
	}
	return o, nil
}

// Has reports whether key was given, even as null.
func (o *Object) Has(key string) bool {
	_, ok := o.fields[key]
	return ok
}

// IsNull reports whether key was given as null.
func (o *Object) IsNull(key string) bool {
	v, ok := o.fields[key]
	return ok && string(v) == "null"
}

// IsString reports whether key was given as a string.
func (o *Object) IsString(key string) bool {
	v := o.value(key)
	return v != nil && v[0] == '"'
}

// value is key's raw JSON, or nil when it is absent or null.
func (o *Object) value(key string) json.RawMessage {
	v, ok := o.fields[key]
	if !ok || string(v) == "null" {
		return nil
	}
	return v
}

// Problem records what is wrong with field.
func (o *Object) Problem(field, format string, args ...any) {
	*o.problems = append(*o.problems, FieldProblem{o.prefix + field, fmt.Sprintf(format, args...)})
}

// Failure is Invalid with every problem recorded (message first), or nil if none.
func (o *Object) Failure(message string) *Failure {
	if len(*o.problems) == 0 {
		return nil
	}
	return &Failure{Kind: Invalid, Message: message, Fields: *o.problems}
}

// String is key's string value, or nil when absent or null. maxLen > 0 limits
// its length in characters (not bytes).
func (o *Object) String(key string, maxLen int) *string {
	v := o.value(key)
	if v == nil {
		return nil
	}
	var s string
	if v[0] != '"' || json.Unmarshal(v, &s) != nil {
		o.Problem(key, "must be a string")
		return nil
	}
	if maxLen > 0 && utf8.RuneCountInString(s) > maxLen {
		o.Problem(key, "must be at most %d characters", maxLen)
		return nil
	}
	return &s
}

// Int is key's integer value, or nil when absent or null. lenient also takes a
// string holding an integer, for services whose own examples send one.
func (o *Object) Int(key string, lenient bool) *int64 {
	v := o.value(key)
	if v == nil {
		return nil
	}
	text := string(v)
	if lenient && v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			text = s
		}
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		// 10.0 or 1e3 are integers too, written otherwise.
		f, ferr := strconv.ParseFloat(text, 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 || (!lenient && v[0] == '"') {
			o.Problem(key, "must be an integer")
			return nil
		}
		n = int64(f)
	}
	return &n
}

// Bool is key's boolean value, or nil when absent or null.
func (o *Object) Bool(key string) *bool {
	v := o.value(key)
	if v == nil {
		return nil
	}
	switch string(v) {
	case "true":
		b := true
		return &b
	case "false":
		b := false
		return &b
	}
	o.Problem(key, "must be a boolean")
	return nil
}

// Strings is key's array of strings, at most maxItems of at most maxLen
// characters each (0: no limit); ok is false when absent, null or wrong.
func (o *Object) Strings(key string, maxItems, maxLen int) (list []string, ok bool) {
	v := o.value(key)
	if v == nil {
		return nil, false
	}
	if v[0] != '[' || json.Unmarshal(v, &list) != nil {
		o.Problem(key, "must be an array of strings")
		return nil, false
	}
	if maxItems > 0 && len(list) > maxItems {
		o.Problem(key, "must have at most %d items", maxItems)
		return nil, false
	}
	for _, s := range list {
		if maxLen > 0 && utf8.RuneCountInString(s) > maxLen {
			o.Problem(key, "items must be at most %d characters", maxLen)
			return nil, false
		}
	}
	if list == nil {
		list = []string{}
	}
	return list, true
}

// Object is key's nested object, or nil when absent or null; its problems are
// recorded here, named "key.field".
func (o *Object) Object(key string) *Object {
	v := o.value(key)
	if v == nil {
		return nil
	}
	in := &Object{fields: map[string]json.RawMessage{}, problems: o.problems, prefix: o.prefix + key + "."}
	if v[0] != '{' || json.Unmarshal(v, &in.fields) != nil {
		o.Problem(key, "must be an object")
		return nil
	}
	return in
}
