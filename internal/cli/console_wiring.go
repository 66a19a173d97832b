package cli

import (
	"slices"

	"github.com/protostar/protostar/internal/console"
	"github.com/protostar/protostar/internal/httpapi"
)

// mountConsole serves the operator console at /console/ on the API, with
// the same stores and services as the API's handlers.
func (a *app) mountConsole(api *httpapi.Server, tenants map[string]string, services console.Deps) error {
	var env []string
	for _, t := range tenants {
		if !slices.Contains(env, t) {
			env = append(env, t)
		}
	}
	slices.Sort(env)
	services.Auth, services.Store, services.Tenants, services.Dispatcher, services.Health = api, a.db, a.db, a.outbox, a.ready
	if a.sealer != nil {
		services.Webhooks = a.db
	}
	con, err := console.New(a.logger, services, console.Config{EnvTenants: env,
		JobMaxAttempts: a.cfg.JobMaxAttempts, TenantMaxJobs: a.cfg.TenantMaxJobs})
	if err != nil {
		return err
	}
	api.Mount("/console/", con)
	return nil
}
