package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/config"
	"github.com/protostar/protostar/internal/postgres"
)

// runAccounts is `protostar tenants …` and `protostar keys …`: tenant and
// key management directly on the database (PROTOSTAR_DATABASE_URL), so an
// operator can bootstrap the first platform key before any API key works.
func runAccounts(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) error {
	a, err := parseAccountsArgs(cmd, args, stderr)
	if err != nil {
		return err
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	db, err := postgres.Open(newLogger(cfg, stderr), cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer db.Close()
	return a.run(ctx, db, cfg, printer{w: stdout, json: a.json})
}

// accountsArgs is one `tenants` or `keys` command line.
type accountsArgs struct {
	cmd, verb, usage string
	name, tenant     string
	platform, json   bool
	expires          time.Duration
	pos              []string // positional arguments after the verb
}

func parseAccountsArgs(cmd string, args []string, stderr io.Writer) (accountsArgs, error) {
	a := accountsArgs{cmd: cmd, usage: map[string]string{
		"tenants": "usage: protostar tenants create ID [--name NAME] | list | delete ID",
		"keys":    "usage: protostar keys create [--tenant ID | --platform] [--name NAME] [--expires DURATION] | list [--tenant ID] | revoke ID [--tenant ID]",
	}[cmd]}
	if len(args) == 0 {
		return a, usageError{fmt.Errorf("%s", a.usage)}
	}
	fs := flag.NewFlagSet(cmd+" "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&a.name, "name", "", "a name for humans")
	fs.StringVar(&a.tenant, "tenant", "", "the tenant (keys)")
	fs.BoolVar(&a.platform, "platform", false, "create a platform key (keys create)")
	fs.DurationVar(&a.expires, "expires", 0, "the key stops working after this long (keys create)")
	fs.BoolVar(&a.json, "json", false, "print JSON")
	a.verb = args[0]
	for rest := args[1:]; len(rest) > 0; { // flags and positional arguments in any order
		if err := fs.Parse(rest); err != nil {
			return a, usageError{err}
		}
		if rest = fs.Args(); len(rest) > 0 {
			a.pos, rest = append(a.pos, rest[0]), rest[1:]
		}
	}
	return a, nil
}

// run carries out the command on the database.
func (a accountsArgs) run(ctx context.Context, db *postgres.DB, cfg config.Config, out printer) error {
	needsID := a.verb == "delete" || a.verb == "revoke" || (a.cmd == "tenants" && a.verb == "create")
	if needsID && len(a.pos) != 1 {
		return usageError{fmt.Errorf("%s", a.usage)}
	}
	switch a.cmd + " " + a.verb {
	case "tenants create":
		if err := protostar.ValidTenant(a.pos[0]); err != nil {
			return usageError{err}
		}
		t, err := db.CreateTenant(ctx, a.pos[0], a.name)
		return out.tenants(err, t)
	case "tenants list":
		ts, err := db.Tenants(ctx)
		return out.tenants(err, ts...)
	case "tenants delete":
		t, j, err := db.DeleteTenant(ctx, a.pos[0], cfg.JobMaxAttempts)
		if err != nil || out.json {
			return orJSON(err, out.w, []any{map[string]any{"tenant": t, "job": j}})
		}
		fmt.Fprintf(out.w, "tenant %s deleted; its keys no longer work. Job %s removes its data (run a protostar process to do it).\n", t.ID, j.ID)
		return nil
	case "keys create":
		return a.createKey(ctx, db, out)
	case "keys list":
		ks, err := db.Keys(ctx, a.tenant)
		return out.keys(err, ks...)
	case "keys revoke":
		k, err := db.RevokeKey(ctx, a.tenant, a.pos[0])
		return out.keys(err, k)
	}
	return usageError{fmt.Errorf("%s", a.usage)}
}

// createKey makes a key and shows its secret, the only time it is shown.
func (a accountsArgs) createKey(ctx context.Context, db *postgres.DB, out printer) error {
	if a.platform == (a.tenant != "") {
		return usageError{fmt.Errorf("keys create needs exactly one of --tenant ID and --platform")}
	}
	var exp *time.Time
	if a.expires > 0 {
		t := time.Now().Add(a.expires)
		exp = &t
	}
	secret, prefix, hash := protostar.NewAPIKey()
	k, err := db.CreateKey(ctx, a.tenant, a.name, prefix, hash, exp)
	if err != nil {
		return err
	}
	if out.json {
		return writeJSON(out.w, map[string]any{"key": k, "secret": secret})
	}
	fmt.Fprintf(out.w, "%s\n\nThis is the key's only display: store it now. Its id is %s.\n", secret, k.ID)
	return nil
}

type printer struct {
	w    io.Writer
	json bool
}

func (p printer) tenants(err error, ts ...protostar.Tenant) error {
	if err != nil || p.json {
		return orJSON(err, p.w, ts)
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCREATED\tDELETED")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Name, t.CreatedAt.Format(time.RFC3339), when(t.DeletedAt))
	}
	return tw.Flush()
}

func (p printer) keys(err error, ks ...protostar.APIKey) error {
	if err != nil || p.json {
		return orJSON(err, p.w, ks)
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPREFIX\tNAME\tTENANT\tCREATED\tLAST USED\tEXPIRES\tREVOKED")
	for _, k := range ks {
		owner := k.TenantID
		if k.Platform {
			owner = "(platform)"
		}
		fmt.Fprintf(tw, "%s\t%s…\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.Name, owner, k.CreatedAt.Format(time.RFC3339),
			when(k.LastUsedAt), when(k.ExpiresAt), when(k.RevokedAt))
	}
	return tw.Flush()
}

func orJSON[T any](err error, w io.Writer, v []T) error {
	if err != nil {
		return err
	}
	return writeJSON(w, v)
}

func when(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}
