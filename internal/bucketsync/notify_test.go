package bucketsync_test

import (
	"encoding/json"
	"testing"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/bucketsync"
)

func TestParse(t *testing.T) {
	t.Parallel()
	const minio = `{"EventName":"s3:ObjectCreated:Put","Key":"docs/acme/회의 록.md","Records":[{"eventVersion":"2.0",
		"eventSource":"minio:s3","eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"docs"},
		"object":{"key":"acme%2F%ED%9A%8C%EC%9D%98+%EB%A1%9D.md","size":12,"eTag":"abc","sequencer":"18A1B2C3D4E5F607",
		"userMetadata":{"X-Amz-Meta-Team":"infra"}}}}]}`
	const aws = `{"Records":[{"eventName":"s3:ObjectRemoved:Delete","s3":{"bucket":{"name":"docs"},
		"object":{"key":"acme/a%2Bb.md","sequencer":"0055AED6DCD90281E5"}}}]}`
	tests := []struct {
		name, body string
		want       []protostar.ObjectEvent
		undecoded  int
		subscribe  string
		wantErr    bool
	}{
		{name: "minio, Korean key with a space", body: minio, want: []protostar.ObjectEvent{{Name: "s3:ObjectCreated:Put",
			Bucket: "docs", Key: "acme/회의 록.md", Sequencer: "18A1B2C3D4E5F607", ETag: "abc", Size: 12}}},
		{name: "aws, literal plus", body: aws, want: []protostar.ObjectEvent{{Name: "s3:ObjectRemoved:Delete",
			Bucket: "docs", Key: "acme/a+b.md", Sequencer: "0055AED6DCD90281E5"}}},
		{name: "sns envelope", body: `{"Type":"Notification","Message":` + quote(aws) + `}`,
			want: []protostar.ObjectEvent{{Name: "s3:ObjectRemoved:Delete", Bucket: "docs", Key: "acme/a+b.md",
				Sequencer: "0055AED6DCD90281E5"}}},
		{name: "sns confirmation", body: `{"Type":"SubscriptionConfirmation","SubscribeURL":"https://sns.example/confirm"}`,
			subscribe: "https://sns.example/confirm"},
		{name: "s3 test event", body: `{"Service":"Amazon S3","Event":"s3:TestEvent"}`},
		{name: "bad escape", body: `{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"object":{"key":"a%zz"}}}]}`, undecoded: 1},
		{name: "not json", body: `Records`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := bucketsync.Parse([]byte(tt.body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if len(n.Events) != len(tt.want) || n.Undecodable != tt.undecoded || n.SubscribeURL != tt.subscribe {
				t.Fatalf("got %+v", n)
			}
			for i := range tt.want {
				if n.Events[i] != tt.want[i] {
					t.Errorf("event %d = %+v, want %+v", i, n.Events[i], tt.want[i])
				}
			}
		})
	}
}

func TestSequencerAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"18A1B2C3D4E5F608", "18A1B2C3D4E5F607", true},
		{"18A1B2C3D4E5F607", "18A1B2C3D4E5F607", false},
		{"18a1b2c3d4e5f608", "18A1B2C3D4E5F607", true},
		{"0055AED6DCD90281E5", "0055AED6DCD90281E", true}, // right-padded: ...E0 < ...E5
		{"0055AED6DCD90281E", "0055AED6DCD90281E5", false},
		{"01", "", true},
		{"", "01", false},
	}
	for _, tt := range tests {
		if got := protostar.SequencerAfter(tt.a, tt.b); got != tt.want {
			t.Errorf("SequencerAfter(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
