package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	tsv := strings.Join(columns, "\t") + "\n" + strings.Join([]string{
		// server store scenario dataset size rps p50 p99 rss_kb cpu wait non2xx socket graphql
		"server\tsqlite\tlist\t10k\tsmall\t6000\t2.0\t4.0\t40000\t100\t0\t0\t0\t0",
		"server\tsqlite\tget\t10k\tsmall\t6000\t2.0\t6.0\t40000\t100\t0\t0\t0\t0",    // p99 over 5 ms
		"server\tsqlite\tsearch\t10k\tsmall\t4000\t2.0\t4.0\t40000\t100\t0\t0\t0\t0", // ratio 0.4
		"server\tsqlite\tdeep\t10k\tsmall\t3000\t9.0\t20\t40000\t100\t0\t0\t0\t0",
		"server\tsqlite\tadd\t10k\tsmall\t6000\t5.0\t15\t40000\t80\t0\t0\t0\t3", // GraphQL errors
		"server\tsqlite\tlist\t1M\tlarge\t5000\t2.9\t6.0\t90000\t100\t0\t0\t0\t0",
		"server\tsqlite\tsearch\t1M\tlarge\t5000\t3.1\t6.0\t90000\t100\t0\t0\t0\t0",     // p50 over 1.5× 2.0
		"server\tsqlite\tsearch-rare\t1M\tlarge\t50\t600\t700\t120000\t100\t0\t0\t0\t0", // RSS over 100 MB
		"server\tpostgres\tlist\t10k\tsmall\t100\t50\t90\t40000\t30\t0\t0\t0\t0",
		"ceiling\tceiling\tlist\t10k\tsmall\t10000\t1\t2\t13000\t100\t0\t0\t0\t0",
		"ceiling\tceiling\tget\t10k\tsmall\t10000\t1\t2\t13000\t100\t0\t0\t0\t0",
		"ceiling\tceiling\tsearch\t10k\tsmall\t10000\t1\t2\t13000\t50\t0\t0\t0\t0", // held back by wrk
		"ceiling\tceiling\tdeep\t10k\tsmall\t10000\t1\t2\t13000\t100\t40\t0\t0\t0", // crowded out
	}, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "r.tsv")
	if err := os.WriteFile(path, []byte(tsv), 0o644); err != nil {
		t.Fatal(err)
	}
	rows, err := read(path)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if failed := write(&out, rows, 1); failed != 5 {
		t.Errorf("%d rows failed, want 5 (get, search, add, search at 1M, search-rare):\n%s", failed, &out)
	}
	for _, want := range []string{
		"| list | 10k | sqlite | 6000 | 2.00 | 4.00 | 41.0 | 100 | 10000 | 0.60 | ratio ≥ 0.50, p99 ≤ 5 ms | pass |",
		"**FAIL**: p99 6.00 ms",
		"**FAIL**: ratio 0.40",
		"| deep | 10k | sqlite | 3000 | 9.00 | 20.00 | 41.0 | 100 | 10000 | 0.30 | ratio ≥ 0.25 | pass |",
		"**FAIL**: 3 errors",
		"p50 ≤ 1.5× 10k's (3.00 ms), RSS ≤ 100 MB | pass |",
		"**FAIL**: p50 1.6× 10k's",
		"**FAIL**: RSS 123 MB",
		"| list | 10k | postgres | 100 | 50.00 | 90.00 | 41.0 | 30 | 10000 | 0.01 | — | info |",
		"3 of 8 rows with a target pass; 5 rows failed.",
		"less than 90% busy in search 10k (50%)",
		"more than 10% of the run in ceiling deep 10k (40%)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, &out)
		}
	}
}
