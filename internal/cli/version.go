package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/protostar/protostar/internal/buildinfo"
)

// runVersion prints which protostar this is: version, source revision and
// Go version; --json for scripts. It needs no configuration, so it works
// in an empty environment (the image test runs it so).
func runVersion(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprintln(stdout, "usage: protostar version [--json]")
			return nil
		}
		return usageError{fmt.Errorf("%w (usage: protostar version [--json])", err)}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q (usage: protostar version [--json])", fs.Arg(0))}
	}
	info := buildinfo.Read()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	modified := ""
	if info.Modified {
		modified = " (modified)"
	}
	_, err := fmt.Fprintf(stdout, "protostar %s\nrevision   %s%s\ngo         %s %s\n",
		info.Version, info.Revision, modified, info.GoVersion, info.Platform)
	return err
}
