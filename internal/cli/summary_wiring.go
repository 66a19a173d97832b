package cli

import (
	"github.com/protostar/protostar/internal/httpapi"
	"github.com/protostar/protostar/internal/queue"
	"github.com/protostar/protostar/internal/worker"
)

func (a *app) summaries() httpapi.Summaries { return nil }
func (a *app) answers() httpapi.Answerer    { return nil }

func (a *app) addSummaryHandler(handlers map[string]queue.HandlerFunc, runner *worker.Runner) {}
