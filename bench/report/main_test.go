package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	rows := readLines(t, strings.Join(columns, "\t"),
		// server store scenario dataset size round rps p50 p99 rss_kb cpu others non2xx socket graphql
		"server\tsqlite\tlist\t10k\tsmall\t1\t6000\t2.0\t4.0\t40000\t100\t0\t0\t0\t0",
		"server\tsqlite\tget\t10k\tsmall\t1\t6000\t2.0\t6.0\t40000\t100\t0\t0\t0\t0",    // p99 over 5 ms
		"server\tsqlite\tsearch\t10k\tsmall\t1\t4000\t2.0\t4.0\t40000\t100\t0\t0\t0\t0", // ratio 0.4
		"server\tsqlite\tdeep\t10k\tsmall\t1\t3000\t9.0\t20\t40000\t100\t0\t0\t0\t0",
		"server\tsqlite\tadd\t10k\tsmall\t1\t6000\t5.0\t15\t40000\t80\t0\t0\t0\t3", // GraphQL errors
		"server\tsqlite\tlist\t1M\tlarge\t1\t5000\t2.9\t6.0\t90000\t100\t0\t0\t0\t0",
		"server\tsqlite\tsearch\t1M\tlarge\t1\t5000\t3.1\t6.0\t90000\t100\t0\t0\t0\t0",     // p50 over 1.5× 2.0
		"server\tsqlite\tsearch-rare\t1M\tlarge\t1\t50\t600\t700\t120000\t100\t0\t0\t0\t0", // RSS over 100 MB
		"server\tpostgres\tlist\t10k\tsmall\t1\t100\t50\t90\t40000\t30\t0\t0\t0\t0",
		"server-nocache\tsqlite\tlist\t10k\tsmall\t1\t6500\t2.0\t4.0\t40000\t100\t0\t0\t0\t0",
		"server-nocache\tsqlite\tdeep\t10k\tsmall\t1\t3000\t9.0\t20\t40000\t100\t0\t0\t0\t0", // ratio 0.30 < 0.40
		"server-nocache\tsqlite\tadd\t10k\tsmall\t1\t4000\t9.0\t20\t40000\t100\t0\t0\t0\t0",  // no target of its own
		"server\tsqlite\tmixed\t10k\tsmall\t1\t17000\t2.0\t4.0\t40000\t100\t0\t0\t0\t0",
		"baseline\tsqlite\tmixed\t10k\tsmall\t1\t10000\t3.0\t6.0\t40000\t100\t0\t0\t0\t0",
		"baseline\tsqlite\tlist\t10k\tsmall\t1\t1000\t3.0\t60\t40000\t100\t0\t0\t0\t0", // no targets
		"server-nocache\tsqlite\tmixed\t10k\tsmall\t1\t9000\t2.0\t4.0\t40000\t100\t0\t0\t0\t0",
		"ceiling\tceiling\tlist\t10k\tsmall\t1\t10000\t1\t2\t13000\t100\t0\t0\t0\t0",
		"ceiling\tceiling\tget\t10k\tsmall\t1\t10000\t1\t2\t13000\t100\t0\t0\t0\t0",
		"ceiling\tceiling\tsearch\t10k\tsmall\t1\t10000\t1\t2\t13000\t50\t0\t0\t0\t0", // held back by wrk
		"ceiling\tceiling\tdeep\t10k\tsmall\t1\t10000\t1\t2\t13000\t100\t40\t0\t0\t0", // crowded out
	)
	var out strings.Builder
	if failed := write(&out, combine(rows), 1); failed != 6 {
		t.Errorf("%d rows failed, want 6 (get, search, add, search at 1M, search-rare, deep with the cache off):\n%s", failed, &out)
	}
	for _, want := range []string{
		"| list | 10k | sqlite | default | 6000 | — | 2.00 | 4.00 | 41.0 | 100 | 10000 | 0.60 | 6.00 | ratio ≥ 0.50, p99 ≤ 5 ms | pass |",
		"| list | 10k | sqlite | cache off | 6500 | — | 2.00 | 4.00 | 41.0 | 100 | 10000 | 0.65 | — | ratio ≥ 0.60, p99 ≤ 5 ms | pass |",
		"| deep | 10k | sqlite | cache off | 3000 | — | 9.00 | 20.00 | 41.0 | 100 | 10000 | 0.30 | — | ratio ≥ 0.40 | **FAIL**: ratio 0.30 |",
		"| add | 10k | sqlite | cache off | 4000 | — | 9.00 | 20.00 | 41.0 | 100 | — | — | — | — | info |",
		"| mixed | 10k | sqlite | default | 17000 | — | 2.00 | 4.00 | 41.0 | 100 | — | — | 1.70 | ≥ 1.7× baseline's req/s (17000) | pass |",
		"| mixed | 10k | sqlite | baseline | 10000 | — | 3.00 | 6.00 | 41.0 | 100 | — | — | — | — | info |",
		"| list | 10k | sqlite | baseline | 1000 | — | 3.00 | 60.00 | 41.0 | 100 | 10000 | 0.10 | — | — | info |",
		"| mixed | 10k | sqlite | cache off | 9000 | — | 2.00 | 4.00 | 41.0 | 100 | — | — | — | — | info |",
		"**FAIL**: p99 6.00 ms",
		"**FAIL**: ratio 0.40",
		"| deep | 10k | sqlite | default | 3000 | — | 9.00 | 20.00 | 41.0 | 100 | 10000 | 0.30 | — | ratio ≥ 0.25 | pass |",
		"**FAIL**: 3 errors",
		"p50 ≤ 1.5× 10k's (3.00 ms), RSS ≤ 100 MB | pass |",
		"**FAIL**: p50 1.6× 10k's",
		"**FAIL**: RSS 123 MB",
		"| list | 10k | postgres | default | 100 | — | 50.00 | 90.00 | 41.0 | 30 | 10000 | 0.01 | — | — | info |",
		"5 of 11 rows with a target pass; 6 rows failed.",
		"less than 90% busy in search 10k (50%)",
		"more than 10% of a CPU over the run in ceiling deep 10k (40%)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, &out)
		}
	}
}

// The mixed target needs the baseline's mixed row of the same run; a run
// without one only reports it.
func TestReportMixedWithoutBaseline(t *testing.T) {
	rows := []row{{server: "server", store: "sqlite", scenario: "mixed", dataset: "10k", size: "small", rps: 100}}
	var out strings.Builder
	if failed := write(&out, rows, 1); failed != 0 {
		t.Errorf("%d rows failed, want 0:\n%s", failed, &out)
	}
	if want := "| mixed | 10k | sqlite | default | 100 | — | 0.00 | 0.00 | 0.0 | 0 | — | — | — | — | info |"; !strings.Contains(out.String(), want) {
		t.Errorf("the report lacks %q:\n%s", want, &out)
	}
	rows = append(rows, row{server: "baseline", store: "sqlite", scenario: "mixed", dataset: "10k", size: "small", rps: 100})
	out.Reset()
	if failed := write(&out, rows, 1); failed != 1 || !strings.Contains(out.String(), "**FAIL**: 1.00× baseline's") {
		t.Errorf("%d rows failed, want the mixed row at 1.00× baseline's:\n%s", failed, &out)
	}
}

// With rounds, a row is the median of its rounds, its ratio the median of
// each round's ratio to the ceiling's round, its peak RSS the highest and
// its errors all of them; a file without the round column is one round.
func TestReportRounds(t *testing.T) {
	runs := readLines(t, strings.Join(columns, "\t"),
		// A slow minute in round 2 slows the server and the ceiling alike.
		"server-nocache\tsqlite\tlist\t10k\tsmall\t1\t6000\t2.0\t4.0\t40000\t100\t0\t0\t0\t0",
		"ceiling\tceiling\tlist\t10k\tsmall\t1\t10000\t1\t2\t13000\t100\t0\t0\t0\t0",
		"server-nocache\tsqlite\tlist\t10k\tsmall\t2\t3000\t3.0\t9.0\t50000\t100\t0\t0\t0\t0",
		"ceiling\tceiling\tlist\t10k\tsmall\t2\t5000\t1\t2\t13000\t100\t0\t0\t0\t0",
		"server-nocache\tsqlite\tlist\t10k\tsmall\t3\t6600\t2.5\t4.5\t30000\t100\t0\t0\t0\t1",
		"ceiling\tceiling\tlist\t10k\tsmall\t3\t11000\t1\t2\t13000\t100\t0\t0\t0\t0",
	)
	rows := combine(runs)
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2 (the server's and the ceiling's): %+v", len(rows), rows)
	}
	var out strings.Builder
	if failed := write(&out, rows, 1); failed != 1 {
		t.Errorf("%d rows failed, want 1 (the error of round 3):\n%s", failed, &out)
	}
	// Ratios by round: 0.60, 0.60 and 0.60.
	want := "| list | 10k | sqlite | cache off | 6000 | 3000–6600 | 2.50 | 4.50 | 51.2 | 100 | 10000 | 0.60 | — | ratio ≥ 0.60, p99 ≤ 5 ms | **FAIL**: 1 errors |"
	if !strings.Contains(out.String(), want) {
		t.Errorf("the report lacks %q:\n%s", want, &out)
	}

	// Paired by round, not the medians' ratio (6000 / 10000).
	r := row{rounds: []float64{6000, 3000, 6600}}
	c := row{rounds: []float64{10000, 4000, 10000}}
	if got := ratio(r, c); got != 0.66 {
		t.Errorf("ratio = %v, want 0.66, the median of 0.60, 0.75 and 0.66", got)
	}

	old := readLines(t, "server\tstore\tscenario\tdataset\tsize\trps\tp50_ms\tp99_ms\trss_kb\tcpu_pct\twait_pct\tnon2xx\tsocket_errors\tgraphql_errors",
		"server\tsqlite\tlist\t10k\tsmall\t6000\t2.0\t4.0\t40000\t100\t0\t0\t0\t0")
	if len(old) != 1 || old[0].round != 1 || old[0].rps != 6000 {
		t.Errorf("a file without rounds: %+v; want one run of round 1 at 6000 req/s", old)
	}
}

// list-desc is judged against list's req/s. A row under 0.95× the
// baseline's with the same settings, paired by round, is named.
func TestReportAgainstOtherRows(t *testing.T) {
	rows := []row{
		{server: "server", store: "sqlite", scenario: "list", dataset: "10k", size: "small", rps: 1000},
		{server: "server", store: "sqlite", scenario: "list-desc", dataset: "10k", size: "small", rps: 800},
	}
	var out strings.Builder
	if write(&out, rows, 1); !strings.Contains(out.String(), "| ≥ 0.9× list's req/s (900) | **FAIL**: 800 req/s, 0.80× list's |") {
		t.Errorf("want list-desc at 0.80× list's req/s:\n%s", &out)
	}

	// The baseline's rounds: 0.80×, 1.00× and 0.90× (median 0.90), though
	// the medians of req/s are equal.
	runs := readLines(t, strings.Join(columns, "\t"),
		"server-nocache\tsqlite\tadd\t10k\tsmall\t1\t8000\t2.0\t4.0\t40000\t100\t0\t0\t0\t0",
		"baseline-nocache\tsqlite\tadd\t10k\tsmall\t1\t10000\t2.0\t4.0\t40000\t100\t0\t0\t0\t0",
		"server-nocache\tsqlite\tadd\t10k\tsmall\t2\t9000\t2.0\t4.0\t40000\t100\t0\t0\t0\t0",
		"baseline-nocache\tsqlite\tadd\t10k\tsmall\t2\t9000\t2.0\t4.0\t40000\t100\t0\t0\t0\t0",
		"server-nocache\tsqlite\tadd\t10k\tsmall\t3\t9000\t2.0\t4.0\t40000\t100\t0\t0\t0\t0",
		"baseline-nocache\tsqlite\tadd\t10k\tsmall\t3\t10000\t2.0\t4.0\t40000\t100\t0\t0\t0\t0",
		"server\tsqlite\tadd\t10k\tsmall\t1\t9600\t2.0\t4.0\t40000\t100\t0\t0\t0\t0",
		"baseline\tsqlite\tadd\t10k\tsmall\t1\t10000\t2.0\t4.0\t40000\t100\t0\t0\t0\t0",
	)
	out.Reset()
	write(&out, combine(runs), 1)
	for _, want := range []string{
		"| add | 10k | sqlite | cache off | 9000 | 8000–9000 | 2.00 | 4.00 | 41.0 | 100 | — | — | 0.90 |",
		"| add | 10k | sqlite | default | 9600 | — | 2.00 | 4.00 | 41.0 | 100 | — | — | 0.96 |",
		"Slower than the baseline with the same settings (under 0.95× its req/s, paired by round): add 10k cache off (0.90×).",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, &out)
		}
	}
}

// readLines writes lines to a results file and reads it.
func readLines(t *testing.T, lines ...string) []row {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r.tsv")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rows, err := read(path)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
