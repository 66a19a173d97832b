package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/protostar/protostar/internal/client"
)

// clientCommands are the commands that talk to a running API. Each returns
// nil (exit 0), a usageError (exit 2) or another error (exit 1).
var clientCommands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
	"ingest":    helpIsSuccess(runIngest),
	"search":    helpIsSuccess(runSearch),
	"ask":       helpIsSuccess(runAsk),
	"summarize": helpIsSuccess(runSummarize),
	"docs":      helpIsSuccess(runDocs),
	"jobs":      helpIsSuccess(runJobs),
	"eval":      helpIsSuccess(runEval),
}

// defaultAPIURL is where client commands look for the API unless
// PROTOSTAR_URL or --url says otherwise.
const defaultAPIURL = "http://127.0.0.1:8080"

// helpIsSuccess turns the flag.ErrHelp of `protostar CMD -h` into success:
// the help was printed and asked for.
func helpIsSuccess(run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		if err := run(ctx, args, stdout, stderr); !errors.Is(err, flag.ErrHelp) {
			return err
		}
		return nil
	}
}

// clientCmd holds a client command's flag set and the flags all client
// commands share.
type clientCmd struct {
	fs       *flag.FlagSet
	synopsis string // e.g. "search QUERY [flags]"
	about    string
	url, key string
	json     bool
}

func newClientCmd(name, synopsis, about string) *clientCmd {
	c := &clientCmd{fs: flag.NewFlagSet(name, flag.ContinueOnError), synopsis: name + " " + synopsis, about: about}
	c.fs.SetOutput(io.Discard) // parse reports errors itself
	c.fs.StringVar(&c.url, "url", "", "API base URL (default $PROTOSTAR_URL, else "+defaultAPIURL+")")
	c.fs.StringVar(&c.key, "key", "", "API key (default $PROTOSTAR_API_KEY; prefer the variable, flags show in ps)")
	c.fs.BoolVar(&c.json, "json", false, "print machine-readable JSON to stdout")
	return c
}

// parse parses flags placed anywhere among args, so both
// `search --json q` and `search q --json` work, and returns the positional
// arguments; "--" ends the flags. -h prints the help to stdout and returns
// flag.ErrHelp; a bad flag returns a usageError.
func (c *clientCmd) parse(args []string, stdout io.Writer) ([]string, error) {
	var pos []string
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, c.usage())
				return nil, err
			}
			return nil, c.usageErr("%v", err)
		}
		rest := c.fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// usage is the command's help text.
func (c *clientCmd) usage() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "usage: protostar %s\n\n%s\n\nflags:\n", c.synopsis, c.about)
	c.fs.SetOutput(&b)
	c.fs.PrintDefaults()
	c.fs.SetOutput(io.Discard)
	return b.String()
}

// usageErr returns a usageError (exit code 2) that ends with the synopsis.
func (c *clientCmd) usageErr(format string, args ...any) error {
	return usageError{fmt.Errorf(format+"\nusage: protostar %s (see -h)", append(args, c.synopsis)...)}
}

// client builds the API client from the flags and the environment.
func (c *clientCmd) client() (*client.Client, error) {
	url := cmp.Or(c.url, os.Getenv("PROTOSTAR_URL"), defaultAPIURL)
	key := cmp.Or(c.key, os.Getenv("PROTOSTAR_API_KEY"))
	if key == "" {
		return nil, usageError{errors.New("no API key: set PROTOSTAR_API_KEY or pass --key")}
	}
	cl, err := client.New(url, key, nil)
	if err != nil {
		return nil, usageError{err}
	}
	return cl, nil
}

// writeJSON prints v as indented JSON, leaving non-ASCII text readable.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// isTerminal reports whether w is a terminal that can redraw a line: a
// character device, and TERM is not "dumb".
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// flush flushes w if it buffers.
func flush(w io.Writer) {
	if f, ok := w.(interface{ Flush() error }); ok {
		_ = f.Flush()
	}
}

// headingPath renders a chunk's location, e.g. "ops/pg.md › 백업 › WAL".
func headingPath(key string, headings []string) string {
	return strings.Join(append([]string{key}, headings...), " › ")
}

// oneLine collapses white space (including newlines) to single spaces and
// cuts the result to at most n runes, at a word boundary when one is
// near, marking the cut with "…".
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	cut := n - 1 // room for the ellipsis
	for i := cut; i > cut*4/5; i-- {
		if r[i] == ' ' {
			cut = i
			break
		}
	}
	return strings.TrimRight(string(r[:cut]), " ") + "…"
}
