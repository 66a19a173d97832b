package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
)

// marshalJSON encodes v as this API writes every JSON body and event:
// a nil slice anywhere in it is written as [] (the schemas promise arrays,
// never null), and v itself is left as it was.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeJSON(&buf, v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// encodeJSON writes v as marshalJSON encodes it, followed by a newline.
func encodeJSON(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(withEmptySlices(v))
}

// withEmptySlices returns v with every nil slice it holds (through
// structs, pointers, slices and interfaces, not maps) made empty. What it
// changes is copied first, so values shared with a cache or another
// goroutine are never written to. []byte (and json.RawMessage) is not an
// array in JSON and is left alone.
func withEmptySlices(v any) any {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || !mayHoldSlices(rv.Type(), map[reflect.Type]bool{}) {
		return v
	}
	cp := reflect.New(rv.Type()).Elem()
	cp.Set(rv)
	fillSlices(cp)
	return cp.Interface()
}

// fillSlices makes the nil slices in v, which must be settable, empty,
// copying pointees and slice elements before it changes them.
func fillSlices(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return
		}
		e := v.Elem()
		if !mayHoldSlices(e.Type(), map[reflect.Type]bool{}) {
			return
		}
		if v.Kind() == reflect.Pointer {
			cp := reflect.New(e.Type())
			cp.Elem().Set(e)
			fillSlices(cp.Elem())
			v.Set(cp)
			return
		}
		cp := reflect.New(e.Type()).Elem()
		cp.Set(e)
		fillSlices(cp)
		v.Set(cp)
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				fillSlices(f)
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			return
		}
		if !mayHoldSlices(v.Type().Elem(), map[reflect.Type]bool{}) {
			return
		}
		cp := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(cp, v)
		for i := range cp.Len() {
			fillSlices(cp.Index(i))
		}
		v.Set(cp)
	}
}

// mayHoldSlices reports whether a value of type t can hold a slice that
// fillSlices would change.
func mayHoldSlices(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer:
		return mayHoldSlices(t.Elem(), seen)
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Uint8
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && mayHoldSlices(f.Type, seen) {
				return true
			}
		}
	}
	return false
}
