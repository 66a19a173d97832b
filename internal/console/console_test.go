package console

import (
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHighlight(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		terms      []string
		want       string
	}{
		{"korean bigrams with a particle", "데이터베이스를 튜닝", []string{"데이", "이터", "베이"}, "<mark>데이터베이</mark>스를 튜닝"},
		{"whole bigram run", "데이터베이스를", []string{"데이", "이터", "터베", "베이", "이스"}, "<mark>데이터베이스</mark>를"},
		{"english word, any case", "Backup the DB <now>", []string{"backup", "db"}, "<mark>Backup</mark> the <mark>DB</mark> &lt;now&gt;"},
		{"no terms escapes only", `<script>"x"</script>`, nil, "&lt;script&gt;&#34;x&#34;&lt;/script&gt;"},
		{"a term inside a word is not a match", "backups", []string{"backup"}, "backups"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := string(highlight(tt.text, tt.terms)); got != tt.want {
				t.Errorf("highlight(%q, %q) = %q, want %q", tt.text, tt.terms, got, tt.want)
			}
		})
	}
}

func TestLanguage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, accept, cookie, want string
	}{
		{"default", "", "", "en"},
		{"korean browser", "ko-KR,ko;q=0.9,en-US;q=0.8", "", "ko"},
		{"english preferred over korean", "en-US,en;q=0.9,ko;q=0.5", "", "en"},
		{"q-values decide", "ko;q=0.4, en;q=0.6", "", "en"},
		{"unknown only", "fr-FR,de;q=0.5", "", "en"},
		{"the switch wins", "en-US", "ko", "ko"},
		{"a bad cookie is ignored", "ko", "xx", "ko"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/console/", nil)
			r.Header.Set("Accept-Language", tt.accept)
			if tt.cookie != "" {
				r.Header.Set("Cookie", langCookie+"="+tt.cookie)
			}
			if got := language(r); got != tt.want {
				t.Errorf("language = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCatalogueComplete(t *testing.T) {
	t.Parallel()
	for id := range catalogue["en"] {
		if _, ok := catalogue["ko"][id]; !ok {
			t.Errorf("message %q has no Korean text", id)
		}
	}
	for id := range catalogue["ko"] {
		if _, ok := catalogue["en"][id]; !ok {
			t.Errorf("Korean message %q has no English text", id)
		}
	}
}

func TestParseMetadata(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want map[string]string
		ok   bool
	}{
		{"", map[string]string{}, true},
		{"team=infra", map[string]string{"team": "infra"}, true},
		{" team = infra , lang=ko ,", map[string]string{"team": "infra", "lang": "ko"}, true},
		{"team", nil, false},
		{"=infra", nil, false},
	}
	for _, tt := range tests {
		got, err := parseMetadata(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("parseMetadata(%q) error = %v, want ok %v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok {
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseMetadata(%q) (-want +got):\n%s", tt.in, diff)
			}
		}
	}
}

func TestTemplatesParse(t *testing.T) {
	t.Parallel()
	if _, err := parsePages(); err != nil {
		t.Fatal(err)
	}
}
