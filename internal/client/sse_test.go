package client

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestReadEvents(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		want   []event
	}{
		{
			name:   "named events",
			stream: "event: delta\ndata: {\"text\":\"a\"}\n\nevent: done\ndata: {}\n\n",
			want:   []event{{"delta", []byte(`{"text":"a"}`)}, {"done", []byte(`{}`)}},
		},
		{
			name:   "default name and multi-line data",
			stream: "data: one\ndata: two\n\n",
			want:   []event{{"message", []byte("one\ntwo")}},
		},
		{
			name:   "CRLF, comments, no space after colon",
			stream: ": keep-alive\r\nevent:progress\r\ndata:{\"x\":1}\r\nid: 7\r\nretry: 100\r\n\r\n",
			want:   []event{{"progress", []byte(`{"x":1}`)}},
		},
		{
			name:   "only one leading space is removed",
			stream: "data:  indented\n\n",
			want:   []event{{"message", []byte(" indented")}},
		},
		{
			name:   "korean text",
			stream: "event: delta\ndata: {\"text\":\"백업은 매일 새벽 3시에 한다.\"}\n\n",
			want:   []event{{"delta", []byte(`{"text":"백업은 매일 새벽 3시에 한다."}`)}},
		},
		{
			name:   "event without data is not dispatched and does not leak its name",
			stream: "event: ping\n\ndata: x\n\n",
			want:   []event{{"message", []byte("x")}},
		},
		{
			name:   "empty data line is dispatched",
			stream: "event: done\ndata:\n\n",
			want:   []event{{"done", []byte{}}},
		},
		{
			name:   "unterminated last event is dropped",
			stream: "event: delta\ndata: a\n\nevent: delta\ndata: b",
			want:   []event{{"delta", []byte("a")}},
		},
		{
			name:   "blank lines between events",
			stream: "\n\n\nevent: a\ndata: 1\n\n\n\nevent: b\ndata: 2\n\n",
			want:   []event{{"a", []byte("1")}, {"b", []byte("2")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []event
			err := readEvents(strings.NewReader(tt.stream), func(ev event) error {
				got = append(got, ev)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadEventsStops(t *testing.T) {
	stream := "data: 1\n\ndata: 2\n\ndata: 3\n\n"
	n := 0
	err := readEvents(strings.NewReader(stream), func(event) error {
		n++
		if n == 2 {
			return errStop
		}
		return nil
	})
	if err != nil || n != 2 {
		t.Errorf("errStop: err = %v after %d events, want nil after 2", err, n)
	}

	boom := errors.New("boom")
	err = readEvents(strings.NewReader(stream), func(event) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("callback error: got %v, want %v", err, boom)
	}
}

func TestReadEventsLineTooLong(t *testing.T) {
	stream := "data: " + strings.Repeat("x", maxEventLine+1) + "\n\n"
	err := readEvents(strings.NewReader(stream), func(event) error { return nil })
	if err == nil {
		t.Fatal("a line longer than maxEventLine was accepted")
	}
}
