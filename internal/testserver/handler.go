package testserver

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/prometheus/client_golang/prometheus"

	"itemsapi/httpapi"
	"itemsapi/items"
	"itemsapi/metrics"
)

// Handler is the API's handler made with cfg over store and broker, as
// server.go makes it: with metrics, on a registry of its own, and with its
// logs discarded.
func Handler(cfg httpapi.Config, store items.Store, broker items.Broker) http.Handler {
	return httpapi.NewHandler(cfg, httpapi.Deps{
		Store:   store,
		Broker:  broker,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics: metrics.New(prometheus.NewRegistry()),
	})
}

// Serve has h answer one GraphQL request, posted as JSON with query and
// vars (and token's Authorization, unless token is empty), in process; it
// returns the answer's status and body.
func Serve(h http.Handler, token, query string, vars map[string]any) (int, string) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	r := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}
