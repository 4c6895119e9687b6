package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// project runs "vigilo project create NAME": it asks a running node's admin API
// for a new project and prints its keys.
func project(args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: vigilo project create [--url URL] [--admin-key KEY] NAME")
	}
	fs := flag.NewFlagSet("project create", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8000", "base URL of the vigilo server")
	adminKey := fs.String("admin-key", "", "the server's admin key")
	if err := parseWithEnv(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: vigilo project create [--url URL] [--admin-key KEY] NAME")
	}
	if *adminKey == "" {
		return errors.New("an admin key is required (--admin-key or VIGILO_ADMIN_KEY)")
	}
	body, _ := json.Marshal(map[string]string{"name": fs.Arg(0)})
	req, err := http.NewRequest("POST", strings.TrimRight(*url, "/")+"/admin/v1/projects", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+*adminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("create project: %w", err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("create project: %s: %s", resp.Status, bytes.TrimSpace(out))
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") == nil {
		out = pretty.Bytes()
	}
	_, err = fmt.Fprintln(os.Stdout, string(out))
	return err
}
