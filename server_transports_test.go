package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTransportFlags(t *testing.T) {
	parse := func(args []string, env map[string]string) (Config, error) {
		return parseConfig(newFlagSet(io.Discard), args, func(k string) string { return env[k] })
	}
	cfg, err := parse(nil, nil)
	if err != nil || cfg.HTTP.MaxStreams != 1000 || cfg.HTTP.TrustedDocuments != nil || cfg.HTTP.OnlyTrustedDocuments {
		t.Fatalf("defaults: %v, max streams %d, trusted %v/%v", err, cfg.HTTP.MaxStreams, cfg.HTTP.TrustedDocuments, cfg.HTTP.OnlyTrustedDocuments)
	}
	if cfg, err := parse(nil, map[string]string{"MAX_STREAMS": "7"}); err != nil || cfg.HTTP.MaxStreams != 7 {
		t.Errorf("MAX_STREAMS=7: %v, %d", err, cfg.HTTP.MaxStreams)
	}

	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const doc = "{ __typename }"
	sum := sha256.Sum256([]byte(doc))
	good := write("good.json", `{"`+hex.EncodeToString(sum[:])+`": "{ __typename }"}`)
	bad := write("bad.json", `{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id":"`+strings.Repeat("0", 64)+`","name":"Typename","type":"query","body":"{ __typename }"}]}`)

	cfg, err = parse([]string{"--trusted-documents", good, "--only-trusted-documents"}, nil)
	if err != nil || len(cfg.HTTP.TrustedDocuments) != 1 || !cfg.HTTP.OnlyTrustedDocuments {
		t.Errorf("a good list: %v, %d documents, only %v", err, len(cfg.HTTP.TrustedDocuments), cfg.HTTP.OnlyTrustedDocuments)
	}
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--max-streams", "0"}, "positive"},
		{[]string{"--only-trusted-documents"}, "--trusted-documents FILE"},
		{[]string{"--trusted-documents", bad}, `operation 0 ("Typename")`},
		{[]string{"--trusted-documents", filepath.Join(dir, "missing.json")}, "missing.json"},
	} {
		if _, err := parse(tc.args, nil); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("parseConfig(%q) = %v, want an error naming %q", tc.args, err, tc.wantErr)
		}
	}
}
