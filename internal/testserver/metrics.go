package testserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// Metrics returns the samples that the server at base (its root URL)
// serves on /metrics, through client, by series: "name" or
// `name{label="value",…}` as the text format spells it. It fails t when
// the server does not answer.
func Metrics(t testing.TB, client *http.Client, base string) map[string]float64 {
	t.Helper()
	m, err := ScrapeMetrics(t.Context(), client, base)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	return m
}

// Metric returns the value of the series name in the server's /metrics;
// it fails t when there is none.
func Metric(t testing.TB, client *http.Client, base, name string) float64 {
	t.Helper()
	v, ok := Metrics(t, client, base)[name]
	if !ok {
		t.Fatalf("no %s in /metrics", name)
	}
	return v
}

// ScrapeMetrics is Metrics for a goroutine of the test: it returns the
// error.
func ScrapeMetrics(ctx context.Context, client *http.Client, base string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

// HandlerMetrics is Metrics of a handler that h serves in process.
func HandlerMetrics(t testing.TB, h http.Handler) map[string]float64 {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil))
	m, err := parseMetrics(w.Body)
	if err != nil || w.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d, %v", w.Code, err)
	}
	return m
}

// parseMetrics reads the samples of Prometheus's text format.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, fmt.Errorf("/metrics: %q is not a sample", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("/metrics: %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}
