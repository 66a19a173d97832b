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
	usage := map[string]string{
		"tenants": "usage: protostar tenants create ID [--name NAME] | list | delete ID",
		"keys":    "usage: protostar keys create [--tenant ID | --platform] [--name NAME] [--expires DURATION] | list [--tenant ID] | revoke ID [--tenant ID]",
	}[cmd]
	if len(args) == 0 {
		return usageError{fmt.Errorf("%s", usage)}
	}
	fs := flag.NewFlagSet(cmd+" "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "a name for humans")
	tenant := fs.String("tenant", "", "the tenant (keys)")
	platform := fs.Bool("platform", false, "create a platform key (keys create)")
	expires := fs.Duration("expires", 0, "the key stops working after this long (keys create)")
	asJSON := fs.Bool("json", false, "print JSON")
	verb, rest := args[0], args[1:]
	var pos []string
	for len(rest) > 0 { // flags and positional arguments in any order
		if err := fs.Parse(rest); err != nil {
			return usageError{err}
		}
		if rest = fs.Args(); len(rest) > 0 {
			pos, rest = append(pos, rest[0]), rest[1:]
		}
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
	out := printer{w: stdout, json: *asJSON}
	switch cmd + " " + verb {
	case "tenants create":
		if len(pos) != 1 {
			return usageError{fmt.Errorf("%s", usage)}
		}
		if err := protostar.ValidTenant(pos[0]); err != nil {
			return usageError{err}
		}
		t, err := db.CreateTenant(ctx, pos[0], *name)
		return out.tenants(err, t)
	case "tenants list":
		ts, err := db.Tenants(ctx)
		return out.tenants(err, ts...)
	case "tenants delete":
		if len(pos) != 1 {
			return usageError{fmt.Errorf("%s", usage)}
		}
		t, j, err := db.DeleteTenant(ctx, pos[0], cfg.JobMaxAttempts)
		if err != nil || out.json {
			return orJSON(err, stdout, []any{map[string]any{"tenant": t, "job": j}})
		}
		fmt.Fprintf(stdout, "tenant %s deleted; its keys no longer work. Job %s removes its data (run a protostar process to do it).\n", t.ID, j.ID)
		return nil
	case "keys create":
		if *platform == (*tenant != "") {
			return usageError{fmt.Errorf("keys create needs exactly one of --tenant ID and --platform")}
		}
		var exp *time.Time
		if *expires > 0 {
			t := time.Now().Add(*expires)
			exp = &t
		}
		secret, prefix, hash := protostar.NewAPIKey()
		k, err := db.CreateKey(ctx, *tenant, *name, prefix, hash, exp)
		if err != nil {
			return err
		}
		if out.json {
			return writeJSON(stdout, map[string]any{"key": k, "secret": secret})
		}
		fmt.Fprintf(stdout, "%s\n\nThis is the key's only display: store it now. Its id is %s.\n", secret, k.ID)
		return nil
	case "keys list":
		ks, err := db.Keys(ctx, *tenant)
		return out.keys(err, ks...)
	case "keys revoke":
		if len(pos) != 1 {
			return usageError{fmt.Errorf("%s", usage)}
		}
		k, err := db.RevokeKey(ctx, *tenant, pos[0])
		return out.keys(err, k)
	}
	return usageError{fmt.Errorf("%s", usage)}
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
