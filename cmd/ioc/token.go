package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/internal/config"
)

// token makes a new API key: it prints the token once (to give its holder) and the config
// entry that keeps only its hash.
func token(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("id", "", "key id, named in the audit log (letters, digits, - and _)")
	name := fs.String("name", "", "who holds the key, e.g. \"Trực ban Công an tỉnh\"")
	role := fs.String("role", "", "one of "+strings.Join(config.CallerRoles, ", "))
	units := fs.String("units", "", "for a unit key: the units whose alerts it sees, comma-separated")
	days := fs.Int("days", 365, "days until the key expires (0: never; keys made through the API live 90 days by default)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	us := split(*units)
	tok := auth.NewToken()
	key := config.APIKey{ID: *id, Name: *name, Role: *role, Units: us, Hash: auth.HashToken(tok)}
	if *days > 0 {
		key.Expires = time.Now().UTC().Add(time.Duration(*days) * 24 * time.Hour).Truncate(time.Second)
	}
	cfg := config.Default()
	cfg.Roles = []string{config.RoleDashboard} // only the key is checked here
	cfg.HTTP.Auth.APIKeys = []config.APIKey{key}
	if err := cfg.Validate(); err != nil || *name == "" {
		fmt.Fprintf(stderr, "ioc token: usage: ioc token --id ID --name NAME --role ROLE [--units a,b]\n")
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
		}
		return exitUsage
	}
	fmt.Fprintf(stdout, "token (give it to %s; it is not kept anywhere and is shown only now):\n  %s\n\n", *name, tok)
	fmt.Fprintf(stdout, "add to http.auth.api_keys in the config file:\n  - id: %s\n    name: %q\n    role: %s\n", key.ID, key.Name, key.Role)
	if len(us) > 0 {
		fmt.Fprintf(stdout, "    units: [%s]\n", strings.Join(us, ", "))
	}
	fmt.Fprintf(stdout, "    hash: %s\n", key.Hash)
	if !key.Expires.IsZero() {
		fmt.Fprintf(stdout, "    expires: %s\n", key.Expires.Format(time.RFC3339))
	}
	return exitOK
}
