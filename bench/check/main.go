// Command check asks a server every request of the given scenarios once
// and checks each answer against what the dataset must hold (see
// workload.Expect). A load run starts only after its scenarios pass, so
// that its numbers are those of right answers.
//
//	check -url http://127.0.0.1:8080/graphql -items 10000 -token T \
//	    -scenarios list,get,search,deep,add -bodies DIR -answers DIR
//
// With -bodies it writes each scenario's request bodies to DIR/NAME.body,
// one per line, for the wrk script; with -answers it writes the server's
// exact responses to DIR/NAME.jsonl, for the ceiling (workload.Answer
// lines). Pointed at the ceiling, without those flags, it checks that the
// ceiling answers as the server did.
//
// The totals that the pages do not show (all items, each search's matches)
// are checked too, with one more request, scenario "counts".
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"itemsapi/bench/workload"
)

func main() {
	var o options
	flag.StringVar(&o.url, "url", "", "the GraphQL endpoint, http://HOST:PORT/graphql")
	flag.IntVar(&o.total, "items", workload.SmallItems, "items the store holds, demo items included")
	flag.StringVar(&o.scenarios, "scenarios", "list,get,search,deep,add", "comma-separated scenarios to check")
	flag.StringVar(&o.token, "token", "", "API token for add")
	flag.StringVar(&o.addPrefix, "add-prefix", "bench", "start of the names that add sends")
	flag.StringVar(&o.bodies, "bodies", "", "directory to write NAME.body request files to")
	flag.StringVar(&o.answers, "answers", "", "directory to write NAME.jsonl ceiling answers to")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "check:", err)
		os.Exit(1)
	}
}

type options struct {
	url, scenarios, token, addPrefix, bodies, answers string
	total                                             int
}

func run(o options) error {
	if o.url == "" {
		return errors.New("-url is required")
	}
	// counts first: if the totals are wrong, nothing else is worth asking.
	// add last: it changes the totals.
	names := []string{workload.NameCounts}
	add := false
	for _, name := range strings.Split(o.scenarios, ",") {
		if name == workload.NameAdd {
			add = true
		} else {
			names = append(names, name)
		}
	}
	if add {
		names = append(names, workload.NameAdd)
	}
	e := workload.NewExpect(o.total, append([]string{workload.CommonQuery, workload.Marker}, workload.MixedQueries...)...)
	c := &client{url: o.url, token: o.token, http: &http.Client{Timeout: 30 * time.Second}}
	for _, name := range names {
		s, err := e.ByName(name, o.addPrefix)
		if err != nil {
			return err
		}
		start := time.Now()
		answers, err := c.check(s, e)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Printf("check %s: %d answers right (%s)\n", name, len(answers), time.Since(start).Round(time.Millisecond))
		if o.bodies != "" && name != workload.NameCounts {
			if err := writeBodies(filepath.Join(o.bodies, name+".body"), s.Bodies); err != nil {
				return err
			}
		}
		if o.answers != "" {
			if err := writeAnswers(filepath.Join(o.answers, name+".jsonl"), answers); err != nil {
				return err
			}
		}
	}
	return nil
}

// client sends GraphQL requests as the wrk script does.
type client struct {
	url, token string
	http       *http.Client
}

// check sends the scenario's requests and checks the answers, which it
// returns for the ceiling. For add it sends one request, of its own name,
// and returns its answer as the answer to any add.
func (c *client) check(s workload.Scenario, e *workload.Expect) ([]workload.Answer, error) {
	if s.Name == workload.NameAdd {
		one := e.Add("bench check", 1)
		resp, err := c.post(one.Bodies[0], true)
		if err == nil {
			err = one.Check(0, resp)
		}
		if err != nil {
			return nil, err
		}
		return []workload.Answer{{Any: true, Response: string(resp)}}, nil
	}
	answers := make([]workload.Answer, len(s.Bodies))
	for i, body := range s.Bodies {
		resp, err := c.post(body, s.Auth)
		if err == nil {
			err = s.Check(i, resp)
		}
		if err != nil {
			return nil, fmt.Errorf("request %d %s: %w", i, body, err)
		}
		answers[i] = workload.Answer{Body: body, Response: string(resp)}
	}
	return answers, nil
}

// post sends body and returns the response body of a 200 JSON answer.
func (c *client) post(body string, auth bool) ([]byte, error) {
	req, err := http.NewRequest(http.MethodPost, c.url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if auth {
		if c.token == "" {
			return nil, errors.New("needs -token")
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s: %.300s", resp.Status, raw)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return nil, fmt.Errorf("Content-Type %q, want application/json", resp.Header.Get("Content-Type"))
	}
	return raw, nil
}

func writeBodies(path string, bodies []string) error {
	var buf bytes.Buffer
	for _, b := range bodies {
		buf.WriteString(b)
		buf.WriteByte('\n')
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func writeAnswers(path string, answers []workload.Answer) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, a := range answers {
		if err := enc.Encode(a); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
