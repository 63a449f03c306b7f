// Command report turns the measurements of bench/run (a TSV file) into the
// results table: for each scenario and dataset, the server's req/s, p50,
// p99 and peak RSS, the ceiling's req/s, their ratio, the target and
// whether it is met. It exits 1 when a target is missed or a run had
// errors, so that bench/run can say so in its exit status.
//
//	report [-server-cpus N] results.tsv
//
// The targets are those of the SQLite store, the default a user gets;
// PostgreSQL rows are informational (the database shares the server's
// CPUs), and so is the rare search, which has no target of its own beyond
// the memory bound at the large dataset.
//
// A run may measure several servers (the server column): "server" with
// default settings, "server-nocache" with the response cache off
// (RESPONSE_CACHE_BYTES=0), and "baseline", "baseline-nocache" the same
// for another commit's binary (BENCH_BASELINE), which have no targets but
// give mixed its own: the server's req/s at least minMixedOfBaseline
// times the baseline's.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// row is one measured run: a line of the TSV file that bench/run writes.
type row struct {
	server   string // "server", "server-nocache", "baseline", "baseline-nocache" or "ceiling"
	store    string // sqlite, postgres, or ceiling
	scenario string
	dataset  string // 10k, 1M, …
	size     string // small or large
	rps      float64
	p50, p99 float64 // milliseconds
	rssKB    int64   // peak resident set (VmHWM) of the serving process
	cpu      float64 // CPU use of the serving process, 100 for one CPU
	wait     float64 // time its threads waited for a CPU, 100 for one thread all along
	errs     int64   // non-2xx answers, socket errors and GraphQL errors
}

// columns is the TSV header that bench/run writes.
var columns = []string{"server", "store", "scenario", "dataset", "size", "rps", "p50_ms", "p99_ms", "rss_kb", "cpu_pct", "wait_pct", "non2xx", "socket_errors", "graphql_errors"}

// The targets of the issue, for the SQLite store.
const (
	minRatioSimple = 0.5  // list, get and search at the small dataset
	minRatioDeep   = 0.25 // deep at the small dataset
	maxP99Simple   = 5.0  // ms: list, get and search at the small dataset
	minAddRPS      = 5000 // acknowledged addItem per second
	maxP99Add      = 20.0 // ms
	maxLargeSlow   = 1.5  // the large dataset's p50 over the small one's, list and search
	maxLargeRSSMB  = 100  // MB (10^6 bytes), at the large dataset under load
	minDescOfList  = 0.9  // list-desc's req/s over list's, same dataset

	// With the response cache off (issue 13), at the small dataset.
	minRatioNoCacheGet    = 0.60 // list and get
	minRatioNoCacheSearch = 0.50
	minRatioNoCacheDeep   = 0.40
	// mixed, default settings, over the baseline's mixed in the same run.
	minMixedOfBaseline = 1.7
)

// settings names the server column's values in the table.
var settings = map[string]string{
	"server":           "default",
	"server-nocache":   "cache off",
	"baseline":         "baseline",
	"baseline-nocache": "baseline, cache off",
}

// judgeListDesc returns the target of a list-desc row, within 10% of the
// list row of its dataset, and what it misses besides misses.
func judgeListDesc(r, list row, hasList bool, misses []string) (string, []string) {
	if !hasList {
		return "—", append(misses, "no list run to compare with")
	}
	limit := minDescOfList * list.rps
	if r.rps < limit {
		misses = append(misses, fmt.Sprintf("%.0f req/s, %.2f× list's", r.rps, r.rps/list.rps))
	}
	return fmt.Sprintf("≥ %.1f× list's req/s (%.0f)", minDescOfList, limit), misses
}

// minCeilingBusy is how busy, as a share of its CPUs, the ceiling must be
// for its req/s to be the machine's limit rather than the load
// generator's.
const minCeilingBusy = 0.9

// maxWait is how long, in percent of the run, a serving process may wait
// for a CPU that another process holds before its numbers are more the
// machine's contention than its own.
const maxWait = 10

func main() {
	cpus := flag.Int("server-cpus", 1, "CPUs the server and the ceiling were pinned to")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: report [-server-cpus N] RESULTS.tsv")
		os.Exit(2)
	}
	rows, err := read(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(2)
	}
	if failed := write(os.Stdout, rows, *cpus); failed > 0 {
		os.Exit(1)
	}
}

func read(path string) ([]row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []row
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Split(sc.Text(), "\t")
		if line == 1 {
			if strings.Join(fields, ",") != strings.Join(columns, ",") {
				return nil, fmt.Errorf("%s: header %q, want %q", path, fields, columns)
			}
			continue
		}
		if len(fields) != len(columns) {
			return nil, fmt.Errorf("%s:%d: %d fields, want %d", path, line, len(fields), len(columns))
		}
		r := row{server: fields[0], store: fields[1], scenario: fields[2], dataset: fields[3], size: fields[4]}
		var errs [3]int64
		p := parser{}
		r.rps = p.float(fields[5])
		r.p50 = p.float(fields[6])
		r.p99 = p.float(fields[7])
		r.rssKB = p.int(fields[8])
		r.cpu = p.float(fields[9])
		r.wait = p.float(fields[10])
		for i := range errs {
			errs[i] = p.int(fields[11+i])
		}
		if p.err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, line, p.err)
		}
		r.errs = errs[0] + errs[1] + errs[2]
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, errors.New(path + ": no measurements")
	}
	return rows, nil
}

// parser parses numbers and keeps the first error.
type parser struct{ err error }

func (p *parser) float(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && p.err == nil {
		p.err = err
	}
	return v
}

func (p *parser) int(s string) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil && p.err == nil {
		p.err = err
	}
	return v
}

// write prints the table in Markdown and returns how many rows failed.
// cpus is how many CPUs the serving processes had.
func write(w io.Writer, rows []row, cpus int) (failed int) {
	key := func(r row) string { return r.server + "/" + r.store + "/" + r.scenario + "/" + r.size }
	ceiling := make(map[string]row)
	measured := make(map[string]row)
	for _, r := range rows {
		if r.server == "ceiling" {
			ceiling[r.scenario+"/"+r.dataset] = r
		} else {
			measured[key(r)] = r
		}
	}
	fmt.Fprintln(w, "| scenario | dataset | store | settings | req/s | p50 ms | p99 ms | peak RSS MB | CPU % | ceiling req/s | ratio | target | result |")
	fmt.Fprintln(w, "|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|---|---|")
	met, checked := 0, 0
	for _, r := range rows {
		if r.server == "ceiling" {
			continue
		}
		ratio := "—"
		ceil := "—"
		var rt float64
		if c, ok := ceiling[r.scenario+"/"+r.dataset]; ok && c.rps > 0 {
			rt = r.rps / c.rps
			ratio = fmt.Sprintf("%.2f", rt)
			ceil = fmt.Sprintf("%.0f", c.rps)
		}
		prefix := r.server + "/" + r.store + "/"
		small, hasSmall := measured[prefix+r.scenario+"/small"]
		list, hasList := measured[prefix+"list/"+r.size]
		target, misses := judge(r, rt, small, hasSmall)
		switch {
		case r.scenario == "list-desc" && r.store == "sqlite" && r.server == "server":
			target, misses = judgeListDesc(r, list, hasList, misses)
		case r.scenario == "mixed" && r.server == "server":
			if base, ok := measured["baseline/"+r.store+"/mixed/"+r.size]; ok && base.rps > 0 {
				limit := minMixedOfBaseline * base.rps
				target = fmt.Sprintf("≥ %.1f× baseline's req/s (%.0f)", minMixedOfBaseline, limit)
				if r.rps < limit {
					misses = append(misses, fmt.Sprintf("%.2f× baseline's", r.rps/base.rps))
				}
			}
		}
		result := "info"
		switch {
		case len(misses) > 0:
			result = "**FAIL**: " + strings.Join(misses, ", ")
			failed++
		case target != "—":
			result = "pass"
			met++
		}
		if target != "—" {
			checked++
		}
		label := settings[r.server]
		if label == "" {
			label = r.server
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %.0f | %.2f | %.2f | %.1f | %.0f | %s | %s | %s | %s |\n",
			r.scenario, r.dataset, r.store, label, r.rps, r.p50, r.p99, float64(r.rssKB)*1024/1e6, r.cpu, ceil, ratio, target, result)
	}
	fmt.Fprintf(w, "\n%d of %d rows with a target pass", met, checked)
	if failed > 0 {
		fmt.Fprintf(w, "; %d rows failed", failed)
	}
	fmt.Fprintln(w, ".")
	// A process that waited for CPUs that others held measured the
	// machine's contention. A ceiling that left its CPUs idle otherwise was
	// held back by wrk: its req/s understates the machine's limit, and the
	// ratios against it flatter the server.
	var contended, idle []string
	for _, r := range rows {
		who := r.store
		if label := settings[r.server]; label != "" {
			who += " " + label
		}
		switch {
		case r.wait > maxWait:
			contended = append(contended, fmt.Sprintf("%s %s %s (%.0f%%)", who, r.scenario, r.dataset, r.wait))
		case r.server == "ceiling" && r.cpu < minCeilingBusy*100*float64(cpus):
			idle = append(idle, fmt.Sprintf("%s %s (%.0f%%)", r.scenario, r.dataset, r.cpu))
		}
	}
	if len(contended) > 0 {
		fmt.Fprintf(w, "\nOther processes took the serving CPUs: the process waited for a CPU more than %d%% of the run in %s. "+
			"Those numbers measure the machine's other work; take them again on a quiet machine.\n",
			maxWait, strings.Join(contended, ", "))
	}
	if len(idle) > 0 {
		fmt.Fprintf(w, "\nThe ceiling kept its %d CPU(s) less than %.0f%% busy in %s: there the load generator was the limit, "+
			"so the ceiling's req/s is below the machine's and the ratio flatters the server.\n",
			cpus, minCeilingBusy*100, strings.Join(idle, ", "))
	}
	return failed
}

// judge returns the target of a row, "—" for none, and what it misses. A
// row with errors fails whatever its target: its numbers are not those of
// right answers.
func judge(r row, ratio float64, small row, hasSmall bool) (target string, misses []string) {
	if r.errs > 0 {
		misses = append(misses, fmt.Sprintf("%d errors", r.errs))
	}
	// Only this branch's server on SQLite has targets; a baseline is
	// there to compare with.
	if r.store != "sqlite" || r.server != "server" && r.server != "server-nocache" {
		return "—", misses
	}
	var want []string
	need := func(ok bool, goal, miss string) {
		want = append(want, goal)
		if !ok {
			misses = append(misses, miss)
		}
	}
	nocache := r.server == "server-nocache"
	switch {
	case nocache && r.size == "small" && (r.scenario == "list" || r.scenario == "get" || r.scenario == "search"):
		least := minRatioNoCacheGet
		if r.scenario == "search" {
			least = minRatioNoCacheSearch
		}
		need(ratio >= least, fmt.Sprintf("ratio ≥ %.2f", least), fmt.Sprintf("ratio %.2f", ratio))
		need(r.p99 <= maxP99Simple, fmt.Sprintf("p99 ≤ %.0f ms", maxP99Simple), fmt.Sprintf("p99 %.2f ms", r.p99))
	case nocache && r.size == "small" && r.scenario == "deep":
		need(ratio >= minRatioNoCacheDeep, fmt.Sprintf("ratio ≥ %.2f", minRatioNoCacheDeep), fmt.Sprintf("ratio %.2f", ratio))
	case nocache && r.size == "small":
		// The write targets are the default settings' rows'.
	case r.size == "small" && (r.scenario == "list" || r.scenario == "get" || r.scenario == "search"):
		need(ratio >= minRatioSimple, fmt.Sprintf("ratio ≥ %.2f", minRatioSimple), fmt.Sprintf("ratio %.2f", ratio))
		need(r.p99 <= maxP99Simple, fmt.Sprintf("p99 ≤ %.0f ms", maxP99Simple), fmt.Sprintf("p99 %.2f ms", r.p99))
	case r.size == "small" && r.scenario == "deep":
		need(ratio >= minRatioDeep, fmt.Sprintf("ratio ≥ %.2f", minRatioDeep), fmt.Sprintf("ratio %.2f", ratio))
	case r.size == "small" && (r.scenario == "add" || r.scenario == "update"):
		need(r.rps >= minAddRPS, fmt.Sprintf("≥ %d req/s", minAddRPS), fmt.Sprintf("%.0f req/s", r.rps))
		need(r.p99 <= maxP99Add, fmt.Sprintf("p99 ≤ %.0f ms", maxP99Add), fmt.Sprintf("p99 %.2f ms", r.p99))
	}
	if r.size == "large" {
		if r.scenario == "list" || r.scenario == "search" {
			if hasSmall {
				limit := maxLargeSlow * small.p50
				need(r.p50 <= limit, fmt.Sprintf("p50 ≤ %.1f× %s's (%.2f ms)", maxLargeSlow, small.dataset, limit),
					fmt.Sprintf("p50 %.1f× %s's", r.p50/small.p50, small.dataset))
			} else {
				misses = append(misses, "no small-dataset run to compare with")
			}
		}
		mb := float64(r.rssKB) * 1024 / 1e6
		need(mb <= maxLargeRSSMB, fmt.Sprintf("RSS ≤ %d MB", maxLargeRSSMB), fmt.Sprintf("RSS %.0f MB", mb))
	}
	if len(want) == 0 {
		return "—", misses
	}
	return strings.Join(want, ", "), misses
}
