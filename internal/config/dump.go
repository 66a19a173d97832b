package config

import (
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strings"
)

// Dump writes every setting as VAR=value, one per line, with secrets
// masked: passwords in URLs, keys and API keys (tenants stay visible).
func (c Config) Dump(w io.Writer) error {
	v := reflect.ValueOf(c)
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		val := fmt.Sprint(v.Field(i).Interface())
		if fv := v.Field(i); fv.Kind() == reflect.Pointer { // unset is empty
			val = ""
			if !fv.IsNil() {
				val = fmt.Sprint(fv.Elem().Interface())
			}
		}
		if fv := v.Field(i); fv.Kind() == reflect.Slice { // as it is set: comma-separated
			parts := make([]string, fv.Len())
			for j := range parts {
				parts[j] = fmt.Sprint(fv.Index(j).Interface())
			}
			val = strings.Join(parts, ",")
		}
		switch f.Tag.Get("secret") {
		case "true":
			if val != "" {
				val = "****"
			}
		case "url":
			val = redactURL(val)
		case "apikeys":
			val = maskKeys(val)
		}
		if _, err := fmt.Fprintf(w, "%s=%s\n", f.Tag.Get("env"), val); err != nil {
			return fmt.Errorf("dump config: %w", err)
		}
	}
	return nil
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "****"
	}
	// libpq-style URLs may carry secrets as query parameters too.
	q := u.Query()
	for name := range q {
		n := strings.ToLower(name)
		if strings.Contains(n, "pass") || strings.Contains(n, "secret") || strings.Contains(n, "key") || strings.Contains(n, "token") {
			q.Set(name, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.Redacted()
}

func maskKeys(s string) string {
	var out []string
	for _, pair := range strings.Split(s, ",") {
		if tenant, _, ok := strings.Cut(strings.TrimSpace(pair), ":"); ok {
			out = append(out, tenant+":****")
		}
	}
	return strings.Join(out, ",")
}
