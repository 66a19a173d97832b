package protostar

import (
	"encoding/json"
	"strings"
	"unicode"
)

// Metadata limits, the same for request metadata and YAML front matter.
const (
	MaxMetadataKeys   = 64
	MaxMetadataKeyLen = 128      // bytes
	MaxMetadataDepth  = 4        // nested arrays and objects under a top-level key
	MaxMetadataBytes  = 64 << 10 // the whole object, encoded as JSON
)

// ValidateMetadata keeps metadata (what names it in errors: "metadata",
// "front matter") small and shallow, its top-level keys identifiers (see
// ValidMetadataKey) and every string storable in jsonb, which refuses NUL
// characters. It returns EINVALID, with a message that says what is wrong.
func ValidateMetadata(what string, m map[string]any) error {
	if len(m) > MaxMetadataKeys {
		return Errorf(EINVALID, "%s has %d keys, at most %d are allowed", what, len(m), MaxMetadataKeys)
	}
	for k, v := range m {
		if err := ValidMetadataKey(what+" key", k); err != nil {
			return err
		}
		if err := validMetadataValue(what, k, v, 1); err != nil {
			return err
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return Errorf(EINVALID, "%s cannot be stored as JSON (only strings, numbers, booleans, lists and maps are)", what)
	}
	if len(raw) > MaxMetadataBytes {
		return Errorf(EINVALID, "%s is %d bytes as JSON, at most %d are allowed", what, len(raw), MaxMetadataBytes)
	}
	return nil
}

// ValidMetadataKey allows letters, digits, marks and _ - . : / @ in a
// metadata key (1 to 128 bytes): keys are names that filters match, so
// quotes, operators and whitespace have no business in them. Values reach
// SQL only as parameters either way.
func ValidMetadataKey(what, k string) error {
	if k == "" || len(k) > MaxMetadataKeyLen {
		return Errorf(EINVALID, "%s must be 1 to %d bytes", what, MaxMetadataKeyLen)
	}
	for _, r := range k {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) && !strings.ContainsRune("_-.:/@", r) {
			return Errorf(EINVALID, "%s %q may contain only letters, digits and _ - . : / @", what, k)
		}
	}
	return nil
}

// validMetadataValue rejects NUL characters anywhere in v and nesting
// deeper than MaxMetadataDepth.
func validMetadataValue(what, key string, v any, depth int) error {
	if depth > MaxMetadataDepth {
		return Errorf(EINVALID, "%s %q nests deeper than %d levels", what, key, MaxMetadataDepth)
	}
	switch v := v.(type) {
	case string:
		if strings.ContainsRune(v, 0) {
			return Errorf(EINVALID, "%s %q contains a NUL character", what, key)
		}
	case []any:
		for _, e := range v {
			if err := validMetadataValue(what, key, e, depth+1); err != nil {
				return err
			}
		}
	case map[string]any:
		for k, e := range v {
			if strings.ContainsRune(k, 0) {
				return Errorf(EINVALID, "%s %q contains a NUL character", what, key)
			}
			if err := validMetadataValue(what, key, e, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
