package testserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// Response is a GraphQL answer as a client sees it.
type Response struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
}

// Error is one entry of a GraphQL answer's errors.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code is the error's extensions.code.
func (e Error) Code() string { s, _ := e.Extensions["code"].(string); return s }

// Post sends a GraphQL request to url/graphql as JSON, with token, when
// not empty, as a bearer token, and returns the answer, errors included.
// Its error is the transport's, or a body that is not JSON.
func Post(ctx context.Context, url, token, query string, vars map[string]any) (Response, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return Response{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/graphql", bytes.NewReader(body))
	if err != nil {
		return Response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, err
	}
	r := Response{Status: resp.StatusCode}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("status %d, body not JSON: %v: %.200s", resp.StatusCode, err, raw)
	}
	return r, nil
}

// Ok decodes the answer's data into v, or returns an error naming the
// answer's errors when it has any.
func (r Response) Ok(v any) error {
	if len(r.Errors) > 0 {
		return fmt.Errorf("errors: %+v", r.Errors)
	}
	if len(r.Data) == 0 || string(r.Data) == "null" {
		return fmt.Errorf("status %d and no data", r.Status)
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(r.Data, v)
}

// Ask posts query to the server with token and returns the answer, errors
// included; it fails the test when no GraphQL answer comes.
func (s *Server) Ask(t testing.TB, token, query string, vars map[string]any) Response {
	t.Helper()
	r, err := Post(t.Context(), s.URL, token, query, vars)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return r
}

// GraphQL posts query to the server with token and decodes the answer's
// data into v; it fails the test on any error.
func (s *Server) GraphQL(t testing.TB, token, query string, v any) {
	t.Helper()
	if err := s.Ask(t, token, query, nil).Ok(v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}
