// Package bucketsync keeps a tenant's documents in step with its prefix of
// the bucket: bucket notifications (MinIO's webhook target, or AWS S3
// through SNS) are stored as they arrive and applied by a leased
// processor, and a periodic reconciliation (a sync job per tenant) catches
// whatever the events missed. Both apply one rule per key, under the key's
// lock: the object as a HEAD finds it decides the document.
package bucketsync

import (
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/protostar/protostar"
)

// Notification is one request to the intake, normalised.
type Notification struct {
	Events []protostar.ObjectEvent
	// Undecodable counts records whose key is not valid URL encoding.
	Undecodable int
	// SubscribeURL is set for an SNS subscription confirmation, which an
	// operator confirms (protostar makes no request to it).
	SubscribeURL string
}

type record struct {
	EventName string `json:"eventName"`
	S3        struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key       string `json:"key"`
			Size      int64  `json:"size"`
			ETag      string `json:"eTag"`
			Sequencer string `json:"sequencer"`
		} `json:"object"`
	} `json:"s3"`
}

type body struct {
	Records []record `json:"Records"`
	// SNS envelopes.
	Type         string `json:"Type"`
	Message      string `json:"Message"`
	SubscribeURL string `json:"SubscribeURL"`
}

// Parse reads a notification body: MinIO's webhook format ({"EventName",
// "Key", "Records"}), the Records[] shape AWS S3 sends to SQS, SNS and
// Lambda, or an SNS envelope around it. An s3:TestEvent has no records.
// Keys arrive URL-encoded with '+' for a space and are decoded exactly.
func Parse(raw []byte) (Notification, error) {
	var b body
	if err := json.Unmarshal(raw, &b); err != nil {
		return Notification{}, protostar.Errorf(protostar.EINVALID, "notification is not a JSON object: %v", err)
	}
	switch b.Type {
	case "SubscriptionConfirmation":
		return Notification{SubscribeURL: b.SubscribeURL}, nil
	case "Notification":
		if err := json.Unmarshal([]byte(b.Message), &b); err != nil {
			return Notification{}, protostar.Errorf(protostar.EINVALID, "SNS message is not an S3 notification: %v", err)
		}
	}
	var n Notification
	for _, r := range b.Records {
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			n.Undecodable++
			continue
		}
		n.Events = append(n.Events, protostar.ObjectEvent{Name: r.EventName, Bucket: r.S3.Bucket.Name, Key: key,
			Sequencer: r.S3.Object.Sequencer, ETag: r.S3.Object.ETag, Size: r.S3.Object.Size})
	}
	return n, nil
}

// String describes n for a log line.
func (n Notification) String() string {
	return fmt.Sprintf("%d events, %d undecodable", len(n.Events), n.Undecodable)
}
