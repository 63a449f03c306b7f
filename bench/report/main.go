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
// A run may measure each server several times (rounds, interleaved with
// the other servers, so that the machine's slow minutes fall on all of
// them alike): the table shows the median of the rounds, the range of
// their req/s, and a ratio that is the median of each round's ratio to
// the ceiling's run of the same round.
//
// A run may measure several servers (the server column): "server" with
// default settings, "server-nocache" with the response cache off
// (RESPONSE_CACHE_BYTES=0), and "baseline", "baseline-nocache" the same
// for another commit's binary (BENCH_BASELINE), which have no targets but
// give mixed its own: the server's req/s at least minMixedOfBaseline
// times the baseline's. Every row of the server is compared with the
// baseline's of the same settings, round by round, and those under
// minOfBaseline of it are named below the table.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// row is what the table says of one server, store, scenario and dataset:
// one measured run, a line of the TSV file that bench/run writes, or the
// medians of several (see combine).
type row struct {
	server   string // "server", "server-nocache", "baseline", "baseline-nocache" or "ceiling"
	store    string // sqlite, postgres, or ceiling
	scenario string
	dataset  string    // 10k, 1M, …
	size     string    // small or large
	round    int       // 1, 2, …: the round of a run; 0 once combined
	rounds   []float64 // combined: each round's req/s, by round
	rps      float64
	p50, p99 float64 // milliseconds
	rssKB    int64   // peak resident set (VmHWM) of the serving process
	cpu      float64 // CPU use of the serving process, 100 for one CPU
	others   float64 // what other processes took of its CPUs, 100 for one CPU all along
	errs     int64   // non-2xx answers, socket errors and GraphQL errors
}

// columns is the TSV header that bench/run writes.
var columns = []string{"server", "store", "scenario", "dataset", "size", "round", "rps", "p50_ms", "p99_ms", "rss_kb", "cpu_pct", "others_pct", "non2xx", "socket_errors", "graphql_errors"}

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
	// Issue 15: no scenario slower than the baseline with the same
	// settings. Rounds of one process move by a few percent, so the
	// report names the rows under this share of the baseline's req/s.
	minOfBaseline = 0.95
)

// settings names the server column's values in the table.
var settings = map[string]string{
	"server":           "default",
	"server-nocache":   "cache off",
	"baseline":         "baseline",
	"baseline-nocache": "baseline, cache off",
}

// judgeListDesc returns the target of a list-desc row, within 10% of the
// list row of its dataset, and what it misses besides misses. The two rows
// are measured minutes apart (all of list's rounds come before
// list-desc's), so a slow minute on this machine can fail it or pass it;
// comparing their ratios to the ceiling instead only traded that for the
// ceiling's own variation (bench/README, 2026-12-05, night).
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

// maxOthers is how much of the serving CPUs, in percent of one CPU over
// the run, other processes may take before a serving process's numbers
// are more the machine's contention than its own.
const maxOthers = 10

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
	if failed := write(os.Stdout, combine(rows), *cpus); failed > 0 {
		os.Exit(1)
	}
}

// checkHeader checks the header of a results file: the names of columns,
// but that a file of bench/run before rounds has no "round" (it holds one
// round), and one from before 2026-12-06 has "wait_pct" (how long the
// server's threads waited for a CPU, which its own threads made long on
// writes) where later ones have "others_pct".
func checkHeader(fields []string) error {
	for _, c := range columns {
		if !slices.Contains(fields, c) && c != "round" && c != "others_pct" {
			return fmt.Errorf("header %q lacks %q", fields, c)
		}
	}
	return nil
}

// read returns the runs of a results file. A file of bench/run before
// rounds, without the round column, holds one round.
func read(path string) ([]row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []row
	cols := columns
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Split(sc.Text(), "\t")
		if line == 1 {
			if err := checkHeader(fields); err != nil {
				return nil, fmt.Errorf("%s: %v", path, err)
			}
			cols = fields
			continue
		}
		if len(fields) != len(cols) {
			return nil, fmt.Errorf("%s:%d: %d fields, want %d", path, line, len(fields), len(cols))
		}
		v := make(map[string]string, len(cols))
		for i, c := range cols {
			v[c] = fields[i]
		}
		r := row{server: v["server"], store: v["store"], scenario: v["scenario"], dataset: v["dataset"], size: v["size"], round: 1}
		p := parser{}
		if s, ok := v["round"]; ok {
			r.round = int(p.int(s))
		}
		r.rps = p.float(v["rps"])
		r.p50 = p.float(v["p50_ms"])
		r.p99 = p.float(v["p99_ms"])
		r.rssKB = p.int(v["rss_kb"])
		r.cpu = p.float(v["cpu_pct"])
		if s, ok := v["others_pct"]; ok { // not in files before 2026-12-06
			r.others = p.float(s)
		}
		r.errs = p.int(v["non2xx"]) + p.int(v["socket_errors"]) + p.int(v["graphql_errors"])
		if p.err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, line, p.err)
		}
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

// combine makes one row of the rounds of each server, store, scenario and
// dataset, in the order of their first round: the median of their req/s,
// p50, p99, CPU and others (each on its own, so a row's p99 is that of its
// typical round, not of its worst), the highest peak RSS, and every
// error.
func combine(runs []row) []row {
	var out []row
	at := make(map[string]int)
	var all [][]row
	for _, r := range runs {
		k := r.server + "/" + r.store + "/" + r.scenario + "/" + r.dataset
		i, ok := at[k]
		if !ok {
			i = len(all)
			at[k] = i
			all = append(all, nil)
		}
		all[i] = append(all[i], r)
	}
	for _, rs := range all {
		slices.SortFunc(rs, func(a, b row) int { return a.round - b.round })
		c := rs[0]
		c.round = 0
		c.rounds = nil
		median := func(f func(row) float64) float64 {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = f(r)
			}
			return medianOf(v)
		}
		for _, r := range rs {
			c.rounds = append(c.rounds, r.rps)
			c.rssKB = max(c.rssKB, r.rssKB)
		}
		c.errs = 0
		for _, r := range rs {
			c.errs += r.errs
		}
		c.rps = median(func(r row) float64 { return r.rps })
		c.p50 = median(func(r row) float64 { return r.p50 })
		c.p99 = median(func(r row) float64 { return r.p99 })
		c.cpu = median(func(r row) float64 { return r.cpu })
		c.others = median(func(r row) float64 { return r.others })
		out = append(out, c)
	}
	return out
}

// medianOf returns the median of v, the mean of the middle two when their
// number is even.
func medianOf(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	n := len(v)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// ratio returns a row's req/s over the ceiling's: with as many rounds on
// both sides, the median of each round's ratio, so that a slow minute
// that fell on one round of both counts once; otherwise the ratio of the
// medians.
func ratio(r, ceiling row) float64 {
	if len(r.rounds) > 1 && len(r.rounds) == len(ceiling.rounds) {
		v := make([]float64, len(r.rounds))
		for i := range v {
			v[i] = r.rounds[i] / ceiling.rounds[i]
		}
		return medianOf(v)
	}
	return r.rps / ceiling.rps
}

// spread returns the range of a row's req/s over its rounds, "—" for one.
func spread(r row) string {
	if len(r.rounds) < 2 {
		return "—"
	}
	return fmt.Sprintf("%.0f–%.0f", slices.Min(r.rounds), slices.Max(r.rounds))
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

// write prints the table of combined rows in Markdown and returns how many
// rows failed. cpus is how many CPUs the serving processes had.
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
	// baselineRatio is a row's req/s over the baseline's with the same
	// settings, paired by round like the ratio to the ceiling; 0 for a
	// baseline's row or without one.
	baselineRatio := func(r row) float64 {
		other, ok := map[string]string{"server": "baseline", "server-nocache": "baseline-nocache"}[r.server]
		if !ok {
			return 0
		}
		if b, ok := measured[other+"/"+r.store+"/"+r.scenario+"/"+r.size]; ok && b.rps > 0 {
			return ratio(r, b)
		}
		return 0
	}
	fmt.Fprintln(w, "| scenario | dataset | store | settings | req/s | rounds' req/s | p50 ms | p99 ms | peak RSS MB | CPU % | ceiling req/s | ratio | × baseline | target | result |")
	fmt.Fprintln(w, "|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|")
	met, checked := 0, 0
	var slower []string
	for _, r := range rows {
		if r.server == "ceiling" {
			continue
		}
		shown := "—"
		ceil := "—"
		var rt float64
		if c, ok := ceiling[r.scenario+"/"+r.dataset]; ok && c.rps > 0 {
			rt = ratio(r, c)
			shown = fmt.Sprintf("%.2f", rt)
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
		vsBase := "—"
		if b := baselineRatio(r); b > 0 {
			vsBase = fmt.Sprintf("%.2f", b)
			if b < minOfBaseline {
				slower = append(slower, fmt.Sprintf("%s %s %s (%.2f×)", r.scenario, r.dataset, label, b))
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %.0f | %s | %.2f | %.2f | %.1f | %.0f | %s | %s | %s | %s | %s |\n",
			r.scenario, r.dataset, r.store, label, r.rps, spread(r), r.p50, r.p99, float64(r.rssKB)*1024/1e6, r.cpu, ceil, shown, vsBase, target, result)
	}
	fmt.Fprintf(w, "\n%d of %d rows with a target pass", met, checked)
	if failed > 0 {
		fmt.Fprintf(w, "; %d rows failed", failed)
	}
	fmt.Fprintln(w, ".")
	if len(slower) > 0 {
		fmt.Fprintf(w, "\nSlower than the baseline with the same settings (under %.2f× its req/s, paired by round): %s.\n",
			minOfBaseline, strings.Join(slower, ", "))
	}
	// A process whose CPUs others took measured the machine's
	// contention. A ceiling that left its CPUs idle otherwise was
	// held back by wrk: its req/s understates the machine's limit, and the
	// ratios against it flatter the server.
	var contended, idle []string
	for _, r := range rows {
		who := r.store
		if label := settings[r.server]; label != "" {
			who += " " + label
		}
		switch {
		case r.others > maxOthers:
			contended = append(contended, fmt.Sprintf("%s %s %s (%.0f%%)", who, r.scenario, r.dataset, r.others))
		case r.server == "ceiling" && r.cpu < minCeilingBusy*100*float64(cpus):
			idle = append(idle, fmt.Sprintf("%s %s (%.0f%%)", r.scenario, r.dataset, r.cpu))
		}
	}
	if len(contended) > 0 {
		fmt.Fprintf(w, "\nOther processes took the serving CPUs: more than %d%% of a CPU over the run in %s. "+
			"Those numbers measure the machine's other work; take them again on a quiet machine.\n",
			maxOthers, strings.Join(contended, ", "))
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
