package cli

import (
	"context"
	"io"
)

var clientCommands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{}
