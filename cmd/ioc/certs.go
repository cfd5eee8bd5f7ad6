package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/haidang-ioc/ioc/internal/tlsconf"
)

// certs makes a local certificate authority and the certificates of a closed network's links:
// a server certificate for the broker, ClickHouse and the web server, and client certificates
// for ioc and for devices (mutual TLS). For the demo and the tests; a province with its own PKI
// issues these from it instead.
func certs(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("certs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".data/certs", "folder to write ca.crt, server.crt/.key and one .crt/.key per client into")
	hosts := fs.String("hosts", "localhost,127.0.0.1", "names and addresses the server certificate holds, comma-separated")
	clients := fs.String("clients", "ioc", "client certificates to make (their common names), comma-separated")
	days := fs.Int("days", 397, "validity of the certificates, in days")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || *days < 1 {
		fmt.Fprintln(stderr, "usage: ioc certs [--dir DIR] [--hosts a,b] [--clients ioc,device-1] [--days N]")
		return exitUsage
	}
	if err := makeCerts(*dir, split(*hosts), split(*clients), time.Duration(*days)*24*time.Hour); err != nil {
		fmt.Fprintf(stderr, "ioc certs: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "wrote %s/ca.crt, server.crt and server.key (%s), and client certificates %s; keys are readable by you only.\n"+
		"The CA's own key is not kept: make a new set to add a certificate.\n", *dir, *hosts, *clients)
	return exitOK
}

func makeCerts(dir string, hosts, clients []string, validFor time.Duration) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ca, err := tlsconf.NewAuthority("Hải Đăng IOC local CA", validFor)
	if err != nil {
		return err
	}
	if _, err := ca.WriteCA(dir); err != nil {
		return err
	}
	now := time.Now()
	server, err := ca.Issue("server", hosts, now.Add(-time.Hour), now.Add(validFor))
	if err != nil {
		return err
	}
	if _, _, err := server.Write(dir, "server"); err != nil {
		return err
	}
	for _, c := range clients {
		leaf, err := ca.Issue(c, nil, now.Add(-time.Hour), now.Add(validFor))
		if err != nil {
			return err
		}
		if _, _, err := leaf.Write(dir, c); err != nil {
			return err
		}
	}
	return nil
}

func split(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
