package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/client"
)

func runAsk(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newClientCmd("ask", "QUESTION [flags]",
		"Answer a question from the documents, with the sources it cites. The answer is\n"+
			"printed as it is written unless --no-stream or --json is given.")
	topK := cmd.fs.Int("top-k", 0, "passages to answer from, 1-20 (default 5)")
	noStream := cmd.fs.Bool("no-stream", false, "print the answer once it is complete")
	prefix := cmd.fs.String("prefix", "", "only documents whose key starts with this")
	pos, err := cmd.parse(args, stdout)
	if err != nil {
		return err
	}
	question := strings.TrimSpace(strings.Join(pos, " "))
	switch {
	case question == "":
		return cmd.usageErr("no QUESTION given")
	case *topK < 0:
		return cmd.usageErr("--top-k must be positive")
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	req := client.AnswerRequest{Question: question, TopK: *topK, Filter: protostar.SearchFilter{KeyPrefix: *prefix}}
	if cmd.json || *noStream {
		a, err := c.Answer(ctx, req)
		if err != nil {
			return err
		}
		if cmd.json {
			return writeJSON(stdout, a)
		}
		fmt.Fprint(stdout, a.Answer)
		printSources(stdout, a)
		return nil
	}
	a, err := c.AnswerStream(ctx, req, func(text string) {
		fmt.Fprint(stdout, text)
		flush(stdout)
	})
	if err != nil {
		if a.Answer != "" {
			fmt.Fprintln(stdout)
		}
		return err
	}
	printSources(stdout, a)
	return nil
}

// printSources ends the answer's line and lists its citations.
func printSources(w io.Writer, a client.Answer) {
	if !strings.HasSuffix(a.Answer, "\n") {
		fmt.Fprintln(w)
	}
	if len(a.Citations) == 0 {
		return
	}
	fmt.Fprintln(w, "\nSources:")
	for i, c := range a.Citations {
		n := c.Index
		if n == 0 { // a server that predates citation indexes
			n = i + 1
		}
		fmt.Fprintf(w, "[%d] %s — \"%s\"\n", n, headingPath(c.Key, c.HeadingPath), oneLine(c.Quote, 200))
	}
}
