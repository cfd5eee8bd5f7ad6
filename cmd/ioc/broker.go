package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"go.yaml.in/yaml/v3"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/ingest/brokeracl"
	"github.com/haidang-ioc/ioc/internal/config"
)

// broker runs `ioc broker sync`: the broker's device accounts and ACLs made those of the
// sensor catalog.
func broker(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "sync" {
		fmt.Fprintln(stderr, "usage: ioc broker sync [--config FILE] [--rotate DEVICE,...]")
		return exitUsage
	}
	fs := flag.NewFlagSet("broker sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", os.Getenv("IOC_CONFIG"), "config file (YAML)")
	rotate := fs.String("rotate", "", "accounts (device ids) to give a new password, comma-separated")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 {
		return exitUsage
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		fmt.Fprintf(stderr, "ioc: invalid configuration (%s):\n%v\n", describe(*path), err)
		return exitUsage
	}
	if cfg.MQTT.Access.AdminUsername == "" {
		fmt.Fprintln(stderr, "ioc broker sync: mqtt.access.admin_username is empty: name the dynamic security plugin's admin (docs/SECURITY.md)")
		return exitUsage
	}
	sim, err := newSimulation(cfg.Simulator, cfg.Ingest.Profiles)
	if err != nil {
		fmt.Fprintf(stderr, "ioc broker sync: %v\n", err)
		return exitUsage
	}
	cat, err := loadCatalog(cfg.Ingest, sim)
	if err != nil {
		fmt.Fprintf(stderr, "ioc broker sync: %v\n", err)
		return exitFailed
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := syncBroker(ctx, cfg, cat, split(*rotate), os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "ioc %v\n", err) // the errors begin "broker sync:"
		return exitFailed
	}
	fmt.Fprintf(stdout, "broker accounts: %d created, %d updated, %d deleted, %d unchanged", rep.Created, rep.Updated, rep.Deleted, rep.Unchanged)
	if len(rep.Passwords) > 0 {
		fmt.Fprintf(stdout, "; %d new passwords in %s", len(rep.Passwords), cfg.MQTT.Access.CredentialsFile)
	}
	fmt.Fprintln(stdout)
	if len(rep.Foreign) > 0 {
		fmt.Fprintf(stdout, "left alone (made by hand, not by sync): %v\n", rep.Foreign)
	}
	return exitOK
}

// syncBroker applies the catalog's plan to the broker and writes the new passwords to the
// credentials file.
func syncBroker(ctx context.Context, cfg config.Config, cat *ingest.Catalog, rotate []string, getenv func(string) string) (brokeracl.Report, error) {
	acc := cfg.MQTT.Access
	pw, err := config.SecretFromEnv(getenv, "mqtt.access.admin_password_env", acc.AdminPasswordEnv)
	if err != nil {
		return brokeracl.Report{}, fmt.Errorf("broker sync: %w", err)
	}
	admin, err := brokeracl.Dial(ctx, cfg.MQTT, acc.AdminUsername, pw)
	if err != nil {
		return brokeracl.Report{}, err
	}
	defer admin.Close()
	iocUser := cfg.MQTT.Username
	if iocUser == "" {
		return brokeracl.Report{}, errors.New("broker sync: mqtt.username is empty: ioc needs an account of its own on a broker with access control")
	}
	plan := brokeracl.NewPlan(cat, cfg.Ingest, cfg.HTTP.Live.Relay, iocUser, cfg.MQTT.Password.Value(), acc.Gateways)
	rep, err := admin.Sync(ctx, plan, rotate)
	if err != nil {
		return rep, err
	}
	if len(rep.Passwords) > 0 {
		if err := writeCredentials(acc.CredentialsFile, rep.Passwords); err != nil {
			return rep, fmt.Errorf("broker sync: %w (the accounts exist now: rotate them with --rotate once the file can be written)", err)
		}
	}
	return rep, nil
}

// writeCredentials merges passwords into the YAML file at path (username: password), readable
// by the owner only.
func writeCredentials(path string, passwords map[string]string) error {
	all := map[string]string{}
	if b, err := os.ReadFile(path); err == nil {
		if err := yaml.Unmarshal(b, &all); err != nil {
			return fmt.Errorf("mqtt.access.credentials_file %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("mqtt.access.credentials_file: %w", err)
	}
	maps.Copy(all, passwords)
	var out []byte
	out = append(out, "# MQTT passwords written by `ioc broker sync`: hand each to its device, then keep this file safe.\n"...)
	for _, u := range slices.Sorted(maps.Keys(all)) {
		line, err := yaml.Marshal(map[string]string{u: all[u]})
		if err != nil {
			return err
		}
		out = append(out, line...)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out, 0o600); err != nil {
		return fmt.Errorf("mqtt.access.credentials_file: %w", err)
	}
	return os.Rename(tmp, path)
}

// logSync runs the broker sync at start or after a catalog reload and logs what it did; a
// broker that does not answer is logged and ioc goes on (the next reload tries again).
func logSync(ctx context.Context, cfg config.Config, cat *ingest.Catalog, log *slog.Logger) {
	rep, err := syncBroker(ctx, cfg, cat, nil, os.Getenv)
	if err != nil {
		log.Error("broker accounts not synced with the reloaded catalog", "err", err)
		return
	}
	log.Info("broker accounts synced with the catalog", "created", rep.Created, "updated", rep.Updated, "deleted", rep.Deleted, "unchanged", rep.Unchanged, "foreign", rep.Foreign)
}
