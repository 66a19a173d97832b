package client

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// event is one server-sent event.
type event struct {
	Name string // "message" when the stream names none
	Data []byte // data lines joined with "\n"
}

// maxEventLine bounds one line of an event stream.
const maxEventLine = 4 << 20

// errStreamEnded is returned by a stream reader when the stream closed
// before the event that ends it.
var errStreamEnded = errors.New("event stream ended early")

// readEvents reads a text/event-stream from r and calls fn for every event,
// until r ends or fn returns an error (which is returned; errStop is
// returned as nil). It follows the WHATWG rules: lines starting with ':'
// are comments, "field: value" loses one space after the colon, data lines
// are joined with "\n", a blank line dispatches the event, and events
// without data are not dispatched. An unterminated event at the end is
// dropped. Lines may end in "\n" or "\r\n".
func readEvents(r io.Reader, fn func(event) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
	var (
		name    string
		data    bytes.Buffer
		hasData bool
	)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if hasData {
				ev := event{Name: name, Data: bytes.Clone(data.Bytes())}
				if ev.Name == "" {
					ev.Name = "message"
				}
				if err := fn(ev); err != nil {
					if errors.Is(err, errStop) {
						return nil
					}
					return err
				}
			}
			name, hasData = "", false
			data.Reset()
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			name = string(value)
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.Write(value)
			hasData = true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read event stream: %w", err)
	}
	return nil
}

// readStream reads a stream that ends with a final event: fn sees every
// event and returns errStop on the final one. An "error" event, after fn
// has seen it, ends the stream as a *StreamError, and a stream that closes
// before its final event as errStreamEnded.
func readStream(r io.Reader, fn func(event) error) error {
	stopped := false
	err := readEvents(r, func(ev event) error {
		if err := fn(ev); err != nil {
			stopped = errors.Is(err, errStop)
			return err
		}
		if ev.Name == "error" {
			return streamError(ev.Data)
		}
		return nil
	})
	if err == nil && !stopped {
		return errStreamEnded
	}
	return err
}

// errStop ends readEvents early without an error.
var errStop = errors.New("stop reading events")

// StreamError is an `error` event of a stream: the API failed after it had
// started answering.
type StreamError struct {
	Detail string
}

func (e *StreamError) Error() string { return e.Detail }
